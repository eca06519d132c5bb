"""A sweep's `best_config.yaml`: the best trial's config as a single run that reproduces its recorded score.

The run trains the trial's parameters and seed under the same LR schedule as the segment that reached the
recorded rung (its total steps), and validates at the recorded step; with exact resumes
(`activities.engine.callbacks.exact_resume`) a training in segments computes what one straight training does, so its metric
at that step equals the sweep's. Where it cannot (segments trained under different schedules after
`extend --rungs`, or a schedule not recorded), `origin.note` says why. `origin` also records the sweep's id
and the config repo and commit the sweep was started from: a run of the file reports them (result.json,
terminal summary) and records that repo as its config's, not the outputs folder the file lives in.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from runner.provenance import ConfigRepoState
from workflows.payloads.records import TrialState
from workflows.search_params import apply_params_to_plain


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


def write_best_config(output_dir: Path, workflow_id: str, plain: dict[str, Any], best: TrialState,
                      config_repo: dict | None = None) -> Path:
    """The resolved config with the best trial's parameters, as a primary config that runs as-is (no
    ladder) and reproduces the trial's metric at its last rung step (`origin`)."""
    config = apply_params_to_plain(json.loads(json.dumps(plain)), best.params)
    step = best.rung_steps[-1]
    schedule, note = schedule_of(best)
    trainer = config["trainer"]
    trainer["max_steps"] = schedule
    if schedule > step and step % trainer["val_every_n_steps"]:
        # validate at the recorded step too (validations draw no training randomness: the steps are unchanged)
        trainer["val_every_n_steps"] = math.gcd(step, trainer["val_every_n_steps"])
    repo = config_repo or {}
    metric = best.metrics[-1]
    config["origin"] = {
        "sweep_id": workflow_id, "trial": best.number, "step": step, "monitor": trainer["monitor"],
        "value": None if math.isnan(metric) else metric,
        "config_path": repo.get("path", ""), "config_commit": repo.get("commit", ""),
        "config_dirty": bool(repo.get("dirty", False)), "note": note,
    }
    config["ladder"]["kind"] = "none"
    config["search_space"] = {"params": []}
    config["experiment_name"] = f"{plain['experiment_name']}_best"
    body = OmegaConf.to_yaml(OmegaConf.create({"defaults": ["base_config", "_self_"], **config}))
    path = output_dir / "best_config.yaml"
    header = (f"# best trial {best.number} of sweep {workflow_id}: {trainer['monitor']} {metric:.4f} at step {step}"
              f" (LR schedule of {schedule} steps); config commit {repo.get('commit') or '(none recorded)'}\n")
    if note:
        header += f"# not reproduced exactly: {note}\n"
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


def origin_line(origin: dict[str, Any], result_step: int, final_score: float | None) -> str:
    """One line for the terminal: which sweep and trial this run reproduces, and whether it did."""
    recorded = origin.get("value")
    line = (f"best config of sweep {origin['sweep_id']} (trial {origin['trial']}, config commit "
            f"{(origin.get('config_commit') or '(none)')[:12]}): {origin.get('monitor')} {recorded} at step "
            f"{origin['step']}")
    if result_step == origin["step"] and final_score is not None and recorded is not None:
        line += "; reproduced exactly" if final_score == recorded else f"; this run: {final_score}"
    if origin.get("note"):
        line += f" ({origin['note']})"
    return line
