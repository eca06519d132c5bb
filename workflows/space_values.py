"""Whether a value lies in a searched parameter's space: inside [low, high], on its step, of its type, or
among its choices, as Optuna's distributions decide it (an enqueued value outside them would be silently
replaced by a sampled one). Shared by `enqueue` (refused at resolve time) and `warm_start` (earlier trials
outside the space are skipped). Pure; safe in workflow code."""

from __future__ import annotations

import math
from typing import Any

from workflows.payloads.specs import ParamSpec

STEP_TOLERANCE = 1e-8
"""How far (in steps) a value may lie off its step's grid (floats read from YAML are not exact)."""


def value_problem(spec: ParamSpec, value: Any) -> str:
    """Why `value` is not a value of `spec` (what would be valid), or "" when it is."""
    if spec.type == "categorical":
        return "" if any(_same(value, c) for c in spec.choices) else f"it must be one of {list(spec.choices)}"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"it must be a{'n int' if spec.type == 'int' else ' number'} in [{spec.low:g}, {spec.high:g}]"
    if spec.type == "int" and value != int(value):
        return f"it must be an int in [{spec.low:g}, {spec.high:g}]"
    assert spec.low is not None and spec.high is not None, spec.key
    if not spec.low <= value <= spec.high:
        return f"it must lie in [{spec.low:g}, {spec.high:g}]"
    step = spec.step or (1 if spec.type == "int" else None)
    if step:
        k = (value - spec.low) / step
        if abs(k - round(k)) > STEP_TOLERANCE:
            return f"it must lie on the grid {spec.low:g}, {spec.low + step:g}, .. (step {step:g}) up to {spec.high:g}"
    return ""


def as_space_value(spec: ParamSpec, value: Any) -> Any:
    """`value` (which has no `value_problem`) as the sampler gives it: the choice itself, an int, or a float."""
    if spec.type == "categorical":
        return next(c for c in spec.choices if _same(value, c))
    return int(value) if spec.type == "int" else float(value)


def params_problem(space: list[ParamSpec], params: dict[str, Any]) -> str:
    """Why `params` (a whole trial's) is not a point of `space`: a key missing or not searched, or a value
    outside its parameter's space; "" when it is one."""
    keys = {p.key for p in space}
    if set(params) != keys:
        return f"it sets {sorted(params)}, but the search space is {sorted(keys)}"
    for p in space:
        problem = value_problem(p, params[p.key])
        if problem:
            return f"{p.key} is {params[p.key]!r}, but {problem}"
    return ""


def _same(value: Any, choice: Any) -> bool:
    """`value` is `choice`: equal and of the same kind (1 is not True; 0 and 0.0 are the same number)."""
    if isinstance(value, bool) or isinstance(choice, bool):
        return isinstance(value, bool) and isinstance(choice, bool) and value == choice
    if isinstance(value, int | float) and isinstance(choice, int | float):
        return value == choice
    return type(value) is type(choice) and value == choice
