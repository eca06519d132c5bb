"""A sweep's budget (`budget.*` in the config) and what it has used so far: the limits the whole sweep stops
at, and the figures `status`, `results`, sweep.json and the HTML report show (`workflows.budget` decides).

No `from __future__ import annotations` (payload types; see workflows/payloads/messages.py).
"""

from dataclasses import dataclass

MAX_STEPS_TOTAL = "max_steps_total"
MAX_WALL_TIME = "max_wall_time"
MAX_GPU_HOURS = "max_gpu_hours"
BUDGET_KEYS = (MAX_STEPS_TOTAL, MAX_WALL_TIME, MAX_GPU_HOURS)
"""The budget's keys (`budget.<key>` in the config), in the order they are checked."""


@dataclass
class BudgetSpec:
    """The limits of a whole sweep; 0 is unlimited. Once one is spent nothing new starts, running segments
    finish (and checkpoint), and the sweep reports the best trial so far."""

    max_steps_total: int = 0
    """Training steps of every trial together (the steps its segments trained, as `total_steps` counts)."""
    max_wall_time_s: float = 0.0
    """Seconds since the sweep started (workflow time, across continue-as-new)."""
    max_gpu_hours: float = 0.0
    """Hours of CUDA devices the segments trained on, as the workers report them (`TrainResult.gpu_seconds`);
    segments on a CPU count 0."""


@dataclass
class BudgetUsed:
    """What a sweep has used of its budget, as of `wall_time_s` after its start."""

    started_at: float = 0.0
    """When the sweep started, in workflow time (seconds since the epoch); its wall time counts from here."""
    steps: int = 0
    wall_time_s: float = 0.0
    gpu_seconds: float = 0.0
    """Seconds of CUDA devices (seconds x devices) of the segments that reported a result."""
    spent: str = ""
    """The key of the budget that stopped the sweep (`BUDGET_KEYS`); empty while none is spent."""
    detail: str = ""
    """Its used and limit figures, as the decision log says them."""
