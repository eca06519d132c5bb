"""A sweep's `best_config.yaml`: the best trial's config as a single run that reproduces its recorded score.

The run trains the trial's parameters and seed under the same LR schedule as the segment that reached the
recorded rung (its total steps), and validates at the recorded step; with exact resumes
(`activities.engine.callbacks.exact_resume`) a training in segments computes what one straight training does, so its metric
at that step equals the sweep's. Where it cannot (segments trained under different schedules after
`extend --rungs`, or a schedule not recorded), `origin.note` says why. `origin` also records the sweep's id
and the config repo and commit the sweep was started from: a run of the file reports them (result.json,
terminal summary) and records that repo as its config's, not the outputs folder the file lives in.

A population-based training member's weights were trained under parameters that changed over the steps,
and before each exploit under its source's: its best_config.yaml is that schedule, followed back through
the sources (`schedule:`; `runner.pbt_view.ancestry`, `runner.schedule_config`), which a single run replays
in segments (`workflows.param_schedule`), as does a `rerun` of that run (its input carries it). Every member
trains with the sweep's seed (the data order and dropout are functions of the seed and the step, and an
exploit copies the source's generator states), so the run trains what the member's weights were trained
on, and reproduces its metric.

`trial_run` owns the rule (parameters, schedule, LR schedule's steps, note) for any trial that reached a
rung: `best_config` writes it as a config, and `train-tune rerun SWEEP_ID --trial N` (`runner.trial_rerun`)
starts it from the sweep's recorded input.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from runner.config_schema import BudgetConfig
from runner.pbt_view import ancestry
from runner.provenance import ConfigRepoState
from workflows.payloads.records import TrialState
from workflows.search_params import SEARCHED_MODELS, apply_params_to_plain

SWEEP_ONLY_LISTS = ("enqueue", "objectives", "constraints")
"""Top-level lists only a sweep reads (`runner.sweep_config.refuse_sweep_keys`): empty in a trial's config."""


def schedule_of(best: TrialState) -> tuple[int, str]:
    """The LR schedule's total steps to train the best trial's config under, and a note when a single run
    under it cannot reproduce the recorded metric exactly (empty when it can)."""
    step = best.rung_steps[-1]
    recorded = [s for s in best.schedule_steps if s]
    if len(set(recorded)) > 1:
        return recorded[-1], (f"trial {best.number} trained its segments under LR schedules of {sorted(set(recorded))} "
                              f"total steps (extend --rungs): a single run follows one schedule, {recorded[-1]} "
                              "steps, so its metric may differ from the recorded one")
    if not best.schedule_steps or not best.schedule_steps[-1]:
        return step, (f"the sweep did not record the LR schedule of trial {best.number}; this run assumes it spanned "
                      f"the recorded step {step} (the trial's bracket's top rung)")
    return best.schedule_steps[-1], ""


def is_pbt_member(kind: str, best: TrialState) -> bool:
    """The trial is a population-based training member (`kind`: the sweep's ladder kind): its parameters
    are a schedule (its lineage)."""
    return bool(best.lineage) and (kind == "pbt" or len(best.lineage) > 1)


def pbt_schedule(trials: dict[int, TrialState], best: TrialState, max_steps: int) -> list[dict[str, Any]]:
    """The hyperparameter schedule the member's weights were trained under, as `schedule:` entries: back
    through every exploit, the source's stretch up to the step copied (`runner.pbt_view.ancestry`), so a
    single run of it trains the same steps under the same parameters. A change at or after `max_steps`
    would train nothing."""
    return [{"step": step, "params": params} for step, _, params in ancestry(trials, best.number) if step < max_steps]


def weight_sources(trials: dict[int, TrialState], best: TrialState) -> str:
    """`member 2 from step 0, member 0 from step 20, member 3 from step 40`: whose training each stretch of
    the member's weights was."""
    return ", ".join(f"member {member} from step {step}" for step, member, _ in ancestry(trials, best.number))


@dataclass(frozen=True)
class TrialRun:
    """What a single run that reproduces a trial's recorded metric trains (`trial_run`): best_config.yaml
    writes it as a config, `train-tune rerun SWEEP_ID --trial N` starts it from the sweep's input."""

    trial: int
    params: dict[str, Any]
    """Set over the sweep's config: the trial's parameters; a PBT member's, those its weights started under."""
    schedule: list[dict[str, Any]]
    """`schedule:` entries (`{step, params}`, steps in (0, max_steps)): a PBT member's weights' later
    parameters (`pbt_schedule`); empty for the other trials."""
    max_steps: int
    """The LR schedule's total steps (`schedule_of`)."""
    step: int
    """The recorded step (the trial's last rung result): the run validates there."""
    note: str
    """Why the run may not reproduce the recorded metric exactly (empty when it does)."""
    pbt: bool
    """The trial is a population-based training member (`is_pbt_member`)."""

    def validation_interval(self, configured: int) -> int:
        """trainer.val_every_n_steps for the run: the configured one, made to divide the recorded step when
        the run trains past it (validations draw no training randomness: the steps are unchanged)."""
        if self.max_steps > self.step and self.step % configured:
            return math.gcd(self.step, configured)
        return configured


def trial_run(kind: str, best: TrialState, trials: dict[int, TrialState] | None = None) -> TrialRun:
    """The single run that reproduces trial `best`'s metric at its last rung step (it must have one):
    a PBT member's from the schedule its weights were trained under (`trials`: the sweep's, by number),
    any other trial's from its parameters; under the LR schedule its recorded segment had."""
    pbt = is_pbt_member(kind, best)
    step = best.rung_steps[-1]
    max_steps, note = schedule_of(best)
    entries = pbt_schedule({best.number: best, **(trials or {})}, best, step) if pbt else []
    return TrialRun(trial=best.number, params=dict(entries[0]["params"] if entries else best.params),
                    schedule=[e for e in entries if 0 < e["step"] < max_steps], max_steps=max_steps, step=step,
                    note=note, pbt=pbt)


def best_config(workflow_id: str, plain: dict[str, Any], best: TrialState, config_repo: dict | None = None,
                trials: dict[int, TrialState] | None = None) -> tuple[dict[str, Any], TrialRun]:
    """The resolved config (`plain`, the sweep's) as a single run of trial `best` (`trial_run`), with the
    sweep's id, the trial, its recorded metric and the config repo (`origin`), and the run it describes."""
    run = trial_run(plain["ladder"]["kind"], best, trials)
    models = (plain.get("search_space") or {}).get(SEARCHED_MODELS)  # a model-searching sweep's choices
    config = apply_params_to_plain(json.loads(json.dumps(plain)), run.params, models)
    trainer = config["trainer"]
    trainer["max_steps"] = run.max_steps
    if trainer.get("val_every_n_steps"):  # a resolved config has it (a record's abridged one may not)
        trainer["val_every_n_steps"] = run.validation_interval(trainer["val_every_n_steps"])
    if run.pbt:
        config["schedule"] = [dict(e) for e in run.schedule]
    repo = config_repo or {}
    metric = best.metrics[-1]
    config["origin"] = {
        "sweep_id": workflow_id, "trial": best.number, "step": run.step, "monitor": trainer["monitor"],
        "value": None if math.isnan(metric) else metric,
        "config_path": repo.get("path", ""), "config_commit": repo.get("commit", ""),
        "config_dirty": bool(repo.get("dirty", False)), "note": run.note,
    }
    config["ladder"]["kind"] = "none"
    config["ladder"]["probe_trials"] = 0  # a probe is a sweep's: the single run refuses one
    config["budget"] = asdict(BudgetConfig())  # a budget is a sweep's: the single run has none
    config["search_space"] = {"params": []}
    for key in SWEEP_ONLY_LISTS:  # they steer a sweep; a single run refuses them
        if key in config:
            config[key] = []
    if "warm_start" in config:
        config["warm_start"] = {**config["warm_start"], "from": []}
    config["experiment_name"] = f"{plain['experiment_name']}_best"
    return config, run


def write_best_config(output_dir: Path, workflow_id: str, plain: dict[str, Any], best: TrialState,
                      config_repo: dict | None = None, trials: dict[int, TrialState] | None = None,
                      name: str = "best_config.yaml", title: str = "best trial") -> Path:
    """The resolved config with the best trial's parameters, as a primary config that runs as-is (no
    ladder) and reproduces the trial's metric at its last rung step (`best_config`); a population-based
    training member's with the hyperparameter schedule its weights were trained under (`pbt_schedule`;
    `trials`: the sweep's, by number)."""
    config, run = best_config(workflow_id, plain, best, config_repo, trials)
    body = OmegaConf.to_yaml(OmegaConf.create({"defaults": ["base_config", "_self_"], **config}))
    path = output_dir / name
    commit = (config_repo or {}).get("commit") or "(none recorded)"
    header = (f"# {title} {best.number} of sweep {workflow_id}: {config['trainer']['monitor']} "
              f"{best.metrics[-1]:.4f} at step {run.step} (LR schedule of {run.max_steps} steps); config commit "
              f"{commit}\n")
    if run.pbt:
        header += (f"# the hyperparameter schedule population-based training member {best.number}'s weights were "
                   f"trained under: {weight_sources({best.number: best, **(trials or {})}, best)}'s parameters (the "
                   f"first ones here, then `schedule:`)\n")
    if run.note:
        header += f"# not reproduced exactly: {run.note}\n"
    path.write_text(header + body)
    return path


def origin_of(plain: dict[str, Any]) -> dict[str, Any] | None:
    """The `origin` a run's config records (a sweep's best_config.yaml), or None for an ordinary config."""
    origin = plain.get("origin") or {}
    return origin if origin.get("sweep_id") else None


def origin_repo(origin: dict[str, Any] | None) -> ConfigRepoState | None:
    """The config repo the sweep behind `origin` was started from: the run's config came from there."""
    if not origin or not origin.get("config_path"):
        return None
    return ConfigRepoState(path=origin["config_path"], commit=origin.get("config_commit", ""),
                           dirty=bool(origin.get("config_dirty")))


FLOAT32_NOISE_ULPS = 4
"""Metrics are float32: a run whose metric is this few representable values from the recorded one trained the
same configuration with some float32 sum added in another order. Seen once in CI (1 ulp, two models training
side by side in one worker under load); the kernel that reordered it is not pinned down."""


def float32_ulps(a: float, b: float) -> int:
    """How many float32 values lie between `a` and `b` (0: the same float32)."""
    def ordered(x: float) -> int:
        bits = struct.unpack("<i", struct.pack("<f", x))[0]
        return bits if bits >= 0 else -(bits & 0x7FFFFFFF)
    if math.isnan(a) or math.isnan(b):
        return 0 if math.isnan(a) and math.isnan(b) else 2**32
    return abs(ordered(a) - ordered(b))


def origin_line(origin: dict[str, Any], result_step: int, final_score: float | None) -> str:
    """One line for the terminal: which sweep and trial this run reproduces, and whether it did (`best`
    false: a trial other than the best, `train-tune rerun SWEEP_ID --trial N`)."""
    recorded = origin.get("value")
    line = (f"{'best ' if origin.get('best', True) else ''}config of sweep {origin['sweep_id']} (trial "
            f"{origin['trial']}, config commit "
            f"{(origin.get('config_commit') or '(none)')[:12]}): {origin.get('monitor')} {recorded} at step "
            f"{origin['step']}")
    if result_step == origin["step"] and final_score is not None and recorded is not None:
        apart = float32_ulps(final_score, recorded)
        if apart == 0:
            line += "; reproduced exactly"
        elif apart <= FLOAT32_NOISE_ULPS:
            line += f"; reproduced to float32 precision (this run: {final_score}, {apart} ulp apart)"
        else:
            line += f"; this run: {final_score}"
    if origin.get("note"):
        line += f" ({origin['note']})"
    return line
