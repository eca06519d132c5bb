"""A sweep or a multirun as an Optuna study (`train-tune results ID --optuna-storage PATH`): what its trials
are in Optuna's terms, computed from the run's records alone (`runner.optuna_storage` writes it).

A ladder sweep's trial is an Optuna trial with the same number: its parameters under the search space's
own distributions (`activities.suggest.key_distributions`: a conditional parameter's active range), the monitored metric at
each rung as an intermediate value at the rung's global step, and a state: completed -> COMPLETE (its
value: the metric at the top rung it reached), stopped (demoted, or stopped by the user or the sweep's
end) -> PRUNED (its last rung's metric, as Optuna gives a pruned trial), failed -> FAIL, and a live or
waiting trial -> RUNNING. A multirun's job is a trial whose parameters are its overrides (categorical
over the values the jobs take) and whose value is its test accuracy. The rest of each record (checkpoints,
every validation metric per rung, the decisions about it) goes into the trial's user attributes.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from runner.sweep_accounting import state_text, stopped_by
from workflows.payloads.records import TrialState
from workflows.payloads.runs import COMPLETED, FAILED, CoordinatorStatus, JobState, leaderboard_metric
from workflows.payloads.specs import ParamSpec
from workflows.payloads.sweep import LIVE_STATES, LadderSweepResult

SWEEP_STATES = {"completed": "COMPLETE", "stopped": "PRUNED", "failed": "FAIL"}
"""Optuna's state of a final sweep trial; any other (live or waiting) is RUNNING."""
TRIAL_KEY = "train_tune_trial"
"""The user attribute holding the sweep's trial number (or the multirun's job index) of an Optuna trial."""


@dataclass
class StudyContent:
    """What the study holds: its name (the workflow id), direction, metric name, its own user attributes
    and its trials (FrozenTrials from `optuna.trial.create_trial`), position i being Optuna's trial i."""

    name: str
    direction: str
    metric: str
    attrs: dict[str, Any] = field(default_factory=dict)
    trials: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class StudySource:
    """How a run kind becomes a study (`runner.run_kinds.RunKind.study`)."""

    current: Callable[[], Awaitable[Any]]
    """The run's result so far (a running run's, from its queries) or its final one, archive merged."""
    content: Callable[[Any, str], StudyContent]
    """(that result, the workflow's status name) -> the study."""


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def sweep_study(workflow_id: str, result: LadderSweepResult, space: list[ParamSpec], direction: str, monitor: str,
                status: str) -> StudyContent:
    """The sweep (its archive merged back: `runner.sweep_results.with_archive`) as a study."""
    from activities.suggest import key_distributions  # the sampler's own; loads only for an export

    trials = [_sweep_trial(t, key_distributions(space, t.params), result)
              for t in sorted(result.trials, key=lambda t: t.number)]
    attrs = {"workflow_id": workflow_id, "workflow_type": "LadderSweepWorkflow", "status": status,
             "monitor": monitor, "best_trial": result.best_trial, "stopped": result.stopped}
    return StudyContent(workflow_id, direction, monitor, attrs, trials)


def _sweep_trial(t: TrialState, dists: dict[str, Any], result: LadderSweepResult):
    import optuna  # slow to import: only the export needs it

    steps = [t.rung_steps[i] if i < len(t.rung_steps) else i for i in range(len(t.metrics))]
    intermediate = dict(zip(steps, t.metrics, strict=True))
    state = "RUNNING" if t.state in LIVE_STATES else SWEEP_STATES.get(t.state, "RUNNING")  # waiting: RUNNING too
    value = t.metrics[-1] if t.metrics else None
    if state == "COMPLETE" and not _finite(value):
        state = "FAIL"  # Optuna's complete trial needs a finite value
    attrs = {TRIAL_KEY: t.number, "state": state_text(t, result.stopped), "stopped_by": stopped_by(t, result.stopped),
             "bracket": t.bracket, "rung": t.rung, "rung_steps": steps, "rung_metrics": t.rung_metrics,
             "steps_trained": t.steps_trained, "checkpoint": t.checkpoint, "best_checkpoint": t.best_checkpoint,
             "reason": t.reason, "error": t.error,
             "decisions": _decisions(t.number, result)}
    return optuna.trial.create_trial(
        state=optuna.trial.TrialState[state], value=value if state in ("COMPLETE", "PRUNED") and _finite(value) else None,
        params=dict(t.params), distributions={key: _distribution(key, value, dists) for key, value in t.params.items()},
        intermediate_values=intermediate, user_attrs=attrs,
    )


def _decisions(number: int, result: LadderSweepResult) -> list[str]:
    """The decisions about trial `number` that made its outcome, once each, in order (not the pruning of its
    checkpoints, which comes after it ended: Optuna keeps a final trial's attributes as they were)."""
    lines = [f"{d.kind} rung {d.rung}: {d.detail}" for d in result.decisions if d.trial == number and d.kind != "prune"]
    return list(dict.fromkeys(lines))  # a running sweep's log and its archive may overlap while a part is written


def _distribution(key: str, value: Any, dists: dict[str, Any]):
    """The search space's distribution of `key`; a key outside it (a record older than its space) as the
    one value it took."""
    import optuna  # slow to import: only the export needs it

    return dists.get(key) or optuna.distributions.CategoricalDistribution([value])


def override_value(text: str) -> int | float | str:
    """A Hydra override's value as the number it reads as, else as written."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def job_params(job: JobState) -> dict[str, Any]:
    """A multirun job's overrides (`key=value`) as parameters."""
    return {key.lstrip("+~"): override_value(value) for key, _, value in (o.partition("=") for o in job.overrides)}


def coordinator_study(workflow_id: str, result: CoordinatorStatus, status: str) -> StudyContent:
    """A multirun (coordinator) as a study: each job a trial, its overrides categorical parameters over the
    values the jobs take, its value the test accuracy (maximised)."""
    import optuna  # slow to import: only the export needs it

    params = {job.index: job_params(job) for job in result.jobs}
    choices: dict[str, list[Any]] = {}
    for values in params.values():
        for key, value in values.items():
            seen = choices.setdefault(key, [])
            if value not in seen:
                seen.append(value)
    dists = {key: optuna.distributions.CategoricalDistribution(sorted(values, key=str)) for key, values in choices.items()}
    trials = []
    for job in sorted(result.jobs, key=lambda j: j.index):
        value = job.metrics.get(leaderboard_metric(job.metrics))
        state = ("COMPLETE" if _finite(value) else "FAIL") if job.state == COMPLETED else \
            "FAIL" if job.state in (FAILED, "cancelled") else "RUNNING"
        attrs = {TRIAL_KEY: job.index, "state": job.state, "workflow_id": job.workflow_id, "overrides": job.overrides,
                 "test_metrics": job.metrics, "best_checkpoint": job.best_checkpoint, "checkpoint": job.latest_checkpoint,
                 "error": job.error}
        trials.append(optuna.trial.create_trial(
            state=optuna.trial.TrialState[state], value=value if state == "COMPLETE" else None,
            params=params[job.index], distributions={key: dists[key] for key in params[job.index]},
            intermediate_values={job.step: job.val_metric} if job.val_metric is not None and job.step else {},
            user_attrs=attrs,
        ))
    attrs = {"workflow_id": workflow_id, "workflow_type": "CoordinatorWorkflow", "status": status,
             "parallelism": result.parallelism}
    ranked_by = leaderboard_metric(next((job.metrics for job in result.jobs if job.metrics), {}))
    return StudyContent(workflow_id, "maximize", f"test_{ranked_by}", attrs, trials)
