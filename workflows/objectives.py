"""What a trial's metrics mean for a sweep with several objectives or outcome constraints (pure; safe in
workflow code): its objective vector and how far it breaks the constraints. The order over vectors is
`workflows.pareto`'s."""

from __future__ import annotations

import math

from workflows.payloads.specs import ConstraintSpec, ObjectiveSpec


def is_multi(objectives: list[ObjectiveSpec]) -> bool:
    """Whether a sweep ranks by several objectives (one objective is `trainer.monitor`, as without any)."""
    return len(objectives) >= 2


def vector(objectives: list[ObjectiveSpec], metrics: dict[str, float]) -> list[float]:
    """The objectives' values in order; NaN for one the metrics lack (it then ranks last)."""
    return [float(metrics.get(o.metric, math.nan)) for o in objectives]


def directions(objectives: list[ObjectiveSpec]) -> list[str]:
    return [o.direction for o in objectives]


def violation(constraints: list[ConstraintSpec], metrics: dict[str, float]) -> float:
    """How far `metrics` break the constraints: the sum of each bound's excess, scaled by the bound's size
    (so constraints in different units add up); 0 when every one holds, infinite when a constrained metric
    is missing or NaN (nothing shows it holds)."""
    total = 0.0
    for c in constraints:
        value = metrics.get(c.metric, math.nan)
        if math.isnan(value):
            return math.inf
        for bound, excess in ((c.max, value - (c.max or 0.0)), (c.min, (c.min or 0.0) - value)):
            if bound is not None and excess > 0:
                total += excess / max(abs(bound), 1e-12)
    return total


def sampler_constraints(constraints: list[ConstraintSpec], metrics: dict[str, float]) -> list[float]:
    """Optuna's form of the constraints (`FinishedTrial.constraints`): one value per bound, feasible when
    <= 0, each the bound's excess scaled as in `violation` (negative by the margin when it holds); infinite
    when the metric is missing or NaN (Optuna refuses NaN constraint values)."""
    out = []
    for c in constraints:
        value = metrics.get(c.metric, math.nan)
        for bound, excess in ((c.max, value - (c.max or 0.0)), (c.min, (c.min or 0.0) - value)):
            if bound is not None:
                out.append(math.inf if math.isnan(value) else excess / max(abs(bound), 1e-12))
    return out


def feasible(constraints: list[ConstraintSpec], metrics: dict[str, float]) -> bool:
    return violation(constraints, metrics) == 0.0
