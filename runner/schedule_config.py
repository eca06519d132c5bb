"""A single run's `schedule:` (per-step parameter changes), validated at resolve time into
`TrainEvalInput.schedule` (`workflows.param_schedule` turns it into training segments).

Rules, each broken one named in one line with the key, its value and what is valid: entries at strictly
increasing steps in [0, trainer.max_steps); each sets one or more keys a search space may set (fields of
model, optim, trainer; not trainer.max_steps, which the segments and the LR schedule span), with a value the
key's schema takes and that the rules of a single run accept given the earlier entries. A change step need
not be a multiple of trainer.checkpoint_every_n_steps: each segment saves a checkpoint at its last step and
the next one resumes from it exactly (`activities.engine.callbacks.exact_resume`).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from typing import Any

from runner.check_values import SCHEMAS, schema_value
from workflows.param_schedule import FIXED_KEYS
from workflows.payloads.errors import ConfigError
from workflows.payloads.runs import ScheduledParams, TrainEvalInput
from workflows.search_params import SEARCHABLE_SECTIONS, apply_params


def resolve_schedule(entries: list[dict[str, Any]], run: TrainEvalInput,
                     validate: Callable[[TrainEvalInput], None]) -> list[ScheduledParams]:
    """The run's schedule from the config's `schedule` entries (plain `{step, params}` mappings), each value
    typed by its key's schema; `validate` applies the rules of a single run to `run` with the parameters in
    force from each entry on.

    Raises:
        ConfigError: the first entry that breaks a rule.
    """
    schedule: list[ScheduledParams] = []
    max_steps = run.trainer.max_steps
    merged: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        where, step, params = f"schedule[{index}]", int(entry["step"]), dict(entry.get("params") or {})
        if step < 0:
            raise ConfigError(f"{where}.step is {step}, but must be >= 0 (the global step the change holds from)")
        if schedule and step <= schedule[-1].step:
            raise ConfigError(f"{where}.step is {step}, but steps must increase strictly (schedule[{index - 1}].step "
                              f"is {schedule[-1].step})")
        if step >= max_steps:
            raise ConfigError(f"{where}.step is {step}, but must be below trainer.max_steps ({max_steps}): a change "
                              f"there would train nothing")
        if not params:
            raise ConfigError(f"{where}.params is empty, but each entry sets at least one key (e.g. optim.lr: 1e-4)")
        typed = {key: _typed(where, key, value, run) for key, value in params.items()}
        merged = {**merged, **typed}
        try:
            validate(apply_params(run, merged))
        except ConfigError as error:
            raise ConfigError(f"{where} (step {step}): {error}") from error
        schedule.append(ScheduledParams(step=step, params=typed))
    return schedule


def _typed(where: str, key: str, value: Any, run: TrainEvalInput) -> Any:
    """`value` as `key`'s schema holds it; refused for a key a schedule cannot set."""
    if key in FIXED_KEYS:
        raise ConfigError(f"{where}.params has '{key}', but a schedule cannot change it: {FIXED_KEYS[key]}")
    try:
        apply_params(run, {key: value})
    except ValueError as error:
        known = [f"{section}.{f.name}" for section in SEARCHABLE_SECTIONS for f in dataclasses.fields(SCHEMAS[section])]
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(f"{where}.params has '{key}', but {hint}a schedule sets fields of "
                          f"{', '.join(SEARCHABLE_SECTIONS)} (the keys a search space may set, e.g. optim.lr)") from error
    try:
        return schema_value(SCHEMAS[key.partition(".")[0]], key, value)
    except ConfigError as error:
        raise ConfigError(f"{where}.params: {error}") from error


def refuse_in_sweep(run: TrainEvalInput) -> None:
    """A sweep trains each trial with its own parameters: a schedule in its config would be ignored."""
    if run.schedule:
        raise ConfigError(f"schedule has {len(run.schedule)} entries, but a sweep (ladder.kind or "
                          f"search_space.params set) trains each trial's own parameters; schedule is for a "
                          f"single run: remove it, or set ladder=none and search_space.params=[]")
