"""A sweep's `budget` keys resolved into a `BudgetSpec`, each error naming its key, its value and what is
valid, before anything starts. A budget is a whole sweep's: a single run or a set of `variants` with one set
is refused (its own `trainer.max_steps` bounds a run)."""

from __future__ import annotations

import re
from typing import Any

from workflows.payloads.budget import MAX_GPU_HOURS, MAX_STEPS_TOTAL, MAX_WALL_TIME, BudgetSpec
from workflows.payloads.errors import ConfigError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
"""The units of a wall time: `90m`, `2h`, `1h30m`, `1d`, `3600s`; a bare number is seconds."""
WALL_TIME_FORMS = "seconds (3600) or a duration such as 90m, 2h, 1h30m, 1d"
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def wall_time_seconds(value: Any) -> float:
    """`budget.max_wall_time` in seconds (0: unlimited); a ConfigError for anything else."""
    text = str(value if value is not None else "").strip().lower()
    if text in ("", "0"):
        return 0.0
    try:
        seconds = float(text)
    except ValueError:
        parts = _PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ConfigError(f"budget.{MAX_WALL_TIME} is '{value}', but must be {WALL_TIME_FORMS}") from None
        seconds = sum(float(n) * UNITS[u] for n, u in parts)
    if not 0 <= seconds < float("inf"):  # also NaN
        raise ConfigError(f"budget.{MAX_WALL_TIME} is '{value}', but must be {WALL_TIME_FORMS}, >= 0")
    return seconds


def resolve_budget(plain: dict[str, Any]) -> BudgetSpec:
    """The sweep's budget (`plain`: the composed config as plain data); every limit 0 is unlimited."""
    budget = plain.get("budget") or {}
    steps, hours = budget.get(MAX_STEPS_TOTAL, 0), budget.get(MAX_GPU_HOURS, 0)
    if not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"budget.{MAX_STEPS_TOTAL} is {steps}, but must be a whole number of steps >= 0 "
                          f"(0: unlimited)")
    if not isinstance(hours, int | float) or not 0 <= hours < float("inf"):
        raise ConfigError(f"budget.{MAX_GPU_HOURS} is {hours}, but must be a number of hours >= 0 (0: unlimited)")
    return BudgetSpec(max_steps_total=steps, max_wall_time_s=wall_time_seconds(budget.get(MAX_WALL_TIME, "")),
                      max_gpu_hours=float(hours))


def refuse_outside_sweep(plain: dict[str, Any], what: str) -> None:
    """A ConfigError when `plain` sets a budget but runs no sweep (`what`: what it runs instead)."""
    spec = resolve_budget(plain)
    key = next((k for k, on in ((MAX_STEPS_TOTAL, spec.max_steps_total), (MAX_WALL_TIME, spec.max_wall_time_s),
                                (MAX_GPU_HOURS, spec.max_gpu_hours)) if on), None)
    if key is not None:
        raise ConfigError(f"budget.{key} is {plain['budget'][key]}, but a budget applies to sweeps only (ladder=... "
                          f"or search_space=...), not to {what}; bound a run with trainer.max_steps, or unset it")
