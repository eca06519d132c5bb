"""How a sweep's budget reads in `status`, `results`, sweep.json and the HTML report: each limit set, what
the sweep used of it, and which one stopped it (`workflows.budget` decides; its `figures` word them)."""

from __future__ import annotations

from typing import Any

from workflows.budget import active, figures
from workflows.payloads.budget import MAX_GPU_HOURS, MAX_STEPS_TOTAL, MAX_WALL_TIME, BudgetSpec, BudgetUsed


def shares(spec: BudgetSpec, used: BudgetUsed) -> dict[str, float]:
    """By key of each limit set, the share of it used (1.0: all of it)."""
    pairs = {MAX_STEPS_TOTAL: (used.steps, spec.max_steps_total),
             MAX_WALL_TIME: (used.wall_time_s, spec.max_wall_time_s),
             MAX_GPU_HOURS: (used.gpu_seconds / 3600, spec.max_gpu_hours)}
    return {key: done / limit for key, (done, limit) in pairs.items() if limit}


def budget_line(spec: BudgetSpec, used: BudgetUsed) -> str:
    """`budget used: 48 of 100 steps trained (48%); 2m05s of 1h00m since the sweep started (3%)`, and which
    budget stopped the sweep once one did; '' for a sweep without a budget."""
    if not active(spec):
        return ""
    parts = [f"{figures(key, spec, used)} ({100 * share:.0f}%)" for key, share in shares(spec, used).items()]
    line = "budget used: " + "; ".join(parts)
    return f"{line}; spent: {used.spent}, so the sweep stopped" if used.spent else line


def budget_fields(result: Any) -> dict[str, Any]:
    """What sweep.json says of the budget beside the result's own `budget` and `budget_used`."""
    spec, used = getattr(result, "budget", BudgetSpec()), getattr(result, "budget_used", BudgetUsed())
    return {"budget_spent": used.spent, "budget_note": budget_line(spec, used)}


def stopped_by_budget(result: Any) -> str:
    """`max_steps_total: 130 of 100 steps trained` when a budget stopped the sweep, else ''."""
    used = getattr(result, "budget_used", None)
    return used.detail if used is not None and used.spent else ""
