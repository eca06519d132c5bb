"""Searched parameters: `section.field` keys (`optim.lr`) that a sweep sets on each trial's run, and `model`,
a `model` config-group option whose whole model config the trial takes (`MODEL_KEY`; the runner resolves
each choice before the sweep starts). The workflow sets them on the run's specs (`apply_params`), the runner
on the plain resolved config it writes as best_config.yaml (`apply_params_to_plain`); both accept the same
keys (pure; safe in workflow code)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

SEARCHABLE_SECTIONS = ("model", "optim", "trainer")
MODEL_KEY = "model"
"""The parameter whose value names a `model` option (its ModelSpec replaces the run's)."""
SEARCHED_MODELS = "models"
"""`search_space.models` of a sweep's plain config: each model choice's plain model config, by option name
(`runner.model_choices`), for `apply_params_to_plain`."""
"""The config sections a search space may set fields of."""

Run = TypeVar("Run")


def apply_params(base: Run, params: Mapping[str, Any], models: Mapping[str, Any] | None = None) -> Run:
    """A copy of `base` (a TrainEvalInput) with each `section.field` parameter set (no config machinery); a
    `model` parameter first swaps in that choice's ModelSpec (`models`: the sweep's, by option name).

    Raises:
        ValueError: a key that names no field of a searchable section, or a model choice not in `models`.
    """
    run = copy.deepcopy(base)
    if MODEL_KEY in params:
        run.model = copy.deepcopy(_model(models, params[MODEL_KEY]))  # type: ignore[attr-defined]
    for section, name, value in _assignments(params, lambda section, name: hasattr(getattr(run, section), name)):
        setattr(getattr(run, section), name, value)
    return run


def apply_params_to_plain(config: dict[str, Any], params: Mapping[str, Any],
                          models: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A copy of the plain resolved config with each `section.field` parameter set: the keys `apply_params`
    accepted for a trial (a field the config leaves out is added); `model` puts that choice's whole plain
    model config in (`models`: by option name).

    Raises:
        ValueError: a key outside the searchable sections, or a model choice not in `models`.
    """
    plain = copy.deepcopy(config)
    if MODEL_KEY in params:
        plain[MODEL_KEY] = copy.deepcopy(_model(models, params[MODEL_KEY]))
    for section, name, value in _assignments(params, lambda section, name: True):
        plain[section][name] = value
    return plain


def _model(models: Mapping[str, Any] | None, choice: Any) -> Any:
    if not models or choice not in models:
        raise ValueError(f"search parameter 'model' is {choice!r}, but the sweep resolved the model options "
                         f"{', '.join(models or {}) or 'none'}")
    return models[choice]


def _assignments(params: Mapping[str, Any], has: Callable[[str, str], bool]) -> Iterator[tuple[str, str, Any]]:
    """(section, field, value) of each parameter but `model`, refused unless its section is searchable and `has` it."""
    for key, value in params.items():
        if key == MODEL_KEY:
            continue
        section, _, name = key.partition(".")
        if section not in SEARCHABLE_SECTIONS or not has(section, name):
            raise ValueError(f"search parameter '{key}' must name a field of {', '.join(SEARCHABLE_SECTIONS)}")
        yield section, name, value
