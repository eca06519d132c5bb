"""A sweep's `objectives` and `constraints`: checked at resolve time (every error names the key, its value
and what is valid) and resolved into `ObjectiveSpec`/`ConstraintSpec`. Cost metrics they name are measured
by the trainings (`trainer.measure` gets them)."""

from __future__ import annotations

import math
from typing import Any

from workflows.objectives import is_multi
from workflows.payloads.errors import ConfigError
from workflows.payloads.runs import TrainEvalInput
from workflows.payloads.specs import COST_METRICS, TASK_METRICS, VALIDATION_METRICS, ConstraintSpec, ObjectiveSpec
from workflows.ranking import DIRECTIONS

METRICS = {**VALIDATION_METRICS, **COST_METRICS}
"""What an objective or a constraint may name, each with the mode that means better."""


def _metric(where: str, metric: str, task: str) -> None:
    """`metric` is one the task's trainings report: its validation metrics or a cost metric."""
    allowed = {**TASK_METRICS.get(task, VALIDATION_METRICS), **COST_METRICS}
    if metric not in allowed:
        raise ConfigError(f"{where}.metric is '{metric}', but task {task} reports: {', '.join(allowed)}")


def resolve_objectives(plain: dict[str, Any], base: TrainEvalInput) -> tuple[list[ObjectiveSpec], list[ConstraintSpec]]:
    """The sweep's objectives and constraints; adds the cost metrics they name to `base.trainer.measure`."""
    objectives = [ObjectiveSpec(**entry) for entry in plain.get("objectives") or []]
    constraints = [ConstraintSpec(**entry) for entry in plain.get("constraints") or []]
    if len(objectives) == 1:
        raise ConfigError(f"objectives has one entry ({objectives[0].metric}), but a sweep with one objective "
                          f"sets trainer.monitor and direction instead; list two or more for a multi-objective sweep")
    seen: set[str] = set()
    for i, objective in enumerate(objectives):
        where = f"objectives[{i}]"
        _metric(where, objective.metric, base.dataset.task.name)
        if objective.metric in seen:
            raise ConfigError(f"{where}.metric is '{objective.metric}', which an earlier objective names already")
        seen.add(objective.metric)
        if objective.direction not in DIRECTIONS:
            raise ConfigError(f"{where}.direction is '{objective.direction}', but must be one of: "
                              f"{', '.join(DIRECTIONS)}")
        if not math.isfinite(objective.weight) or objective.weight < 0:
            raise ConfigError(f"{where}.weight is {objective.weight}, but must be a finite number >= 0")
    for i, constraint in enumerate(constraints):
        where = f"constraints[{i}]"
        _metric(where, constraint.metric, base.dataset.task.name)
        bounds = [b for b in (constraint.max, constraint.min) if b is not None]
        if not bounds:
            raise ConfigError(f"{where} ({constraint.metric}) has neither max nor min; set one or both")
        if not all(math.isfinite(b) for b in bounds):
            raise ConfigError(f"{where} ({constraint.metric}) has max={constraint.max}, min={constraint.min}, but "
                              f"bounds must be finite numbers")
        if constraint.max is not None and constraint.min is not None and constraint.min > constraint.max:
            raise ConfigError(f"{where} ({constraint.metric}) has min={constraint.min} > max={constraint.max}; no "
                              f"value can meet it")
    if is_multi(objectives) and plain["ladder"]["kind"] == "pbt":
        raise ConfigError("objectives lists several metrics, but ladder=pbt exploits by one metric "
                          "(trainer.monitor); use sha, asha or hyperband for a multi-objective sweep")
    if constraints and plain["ladder"]["kind"] == "pbt":
        raise ConfigError(f"constraints is set ({constraints[0].metric}), but ladder=pbt exploits by one metric and "
                          f"cannot keep infeasible members from being copied; use sha, asha or hyperband")
    named = [o.metric for o in objectives] + [c.metric for c in constraints]
    base.trainer.measure = sorted(set(base.trainer.measure) | {m for m in named if m in COST_METRICS})
    return objectives, constraints


def refuse_outside_sweep(plain: dict[str, Any], what: str = "a single run") -> None:
    """`objectives` and `constraints` rank a sweep's trials; a single run has nothing to rank."""
    for key in ("objectives", "constraints"):
        if plain.get(key):
            raise ConfigError(f"{key} is set, but this is {what}, not a sweep: {key} rank a sweep's trials "
                              f"(pick ladder=sha|asha|hyperband and a search_space); for a run's cost metrics "
                              f"use trainer.measure")
