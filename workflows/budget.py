"""A whole sweep's budget (`budget.*`): when it is spent, and what the sweep has used of it.

- steps (`max_steps_total`): the steps every trial trained, archived ones included (what the result's
  `total_steps` counts). A segment's steps count once it ends, so the sweep may pass the limit by what the
  segments running when it is reached train to their rung.
- wall time (`max_wall_time`): workflow time since the sweep's first run started (`SweepState.budget`
  carries the start across continue-as-new); a timer wakes the sweep at the limit, also while it is paused.
  Segments running then finish their rung, as after a `stop`.
- GPU hours (`max_gpu_hours`): what the workers report (`TrainResult.gpu_seconds`: a segment's fit in wall
  seconds times the CUDA devices it held); segments on a CPU count 0, and a killed attempt's time is not
  reported, so it is not counted.

Once one is spent the sweep takes the path of the `stop` signal: nothing new starts, running segments
finish (and checkpoint), the best trial so far is reported, and a `stop_sweep` decision names the budget
with its used and limit figures. A budget reached as the plan ends (nothing left to start) stops nothing.

`spent`, `measure`, `enforce` and `time_left` are pure (no I/O, no clock: `now` is handed in); `Guard` is
the workflow's face: the `workflow.patched` marker, workflow time and the timer.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from temporalio import workflow

from workflows.payloads.budget import MAX_GPU_HOURS, MAX_STEPS_TOTAL, MAX_WALL_TIME, BudgetSpec, BudgetUsed

if TYPE_CHECKING:
    from workflows.payloads.sweep import SweepState
    from workflows.schedulers.book import SweepBook

PATCH = "sweep-budget"
"""`workflow.patched` id of enforcing a budget (asked for only by sweeps that have one)."""


def active(spec: BudgetSpec) -> bool:
    """Any limit is set."""
    return bool(spec.max_steps_total or spec.max_wall_time_s or spec.max_gpu_hours)


def hours_minutes(seconds: float) -> str:
    """`45s`, `12m05s`, `3h05m`."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def figures(key: str, spec: BudgetSpec, used: BudgetUsed) -> str:
    """`130 of 100 steps trained`, `1h02m of 1h00m since the sweep started`, `0.52 of 0.5 GPU hours`."""
    if key == MAX_STEPS_TOTAL:
        return f"{used.steps:,} of {spec.max_steps_total:,} steps trained"
    if key == MAX_WALL_TIME:
        return f"{hours_minutes(used.wall_time_s)} of {hours_minutes(spec.max_wall_time_s)} since the sweep started"
    return f"{used.gpu_seconds / 3600:.3g} of {spec.max_gpu_hours:g} GPU hours"


def spent(spec: BudgetSpec, used: BudgetUsed) -> tuple[str, str] | None:
    """(the key of the first limit `used` has reached, `key: figures`), or None while every limit has room
    (0 is unlimited)."""
    reached = [(MAX_STEPS_TOTAL, spec.max_steps_total and used.steps >= spec.max_steps_total),
               (MAX_WALL_TIME, spec.max_wall_time_s and used.wall_time_s >= spec.max_wall_time_s),
               (MAX_GPU_HOURS, spec.max_gpu_hours and used.gpu_seconds >= spec.max_gpu_hours * 3600)]
    for key, hit in reached:
        if hit:
            return key, f"{key}: {figures(key, spec, used)}"
    return None


def measure(book: SweepBook, now: float) -> BudgetUsed:
    """What the sweep has used by `now` (workflow time, seconds since the epoch): a copy of its carried
    figures with the steps trained and the wall time brought up to date."""
    s = book.s
    steps = s.archived_steps + sum(t.steps_trained for t in book.trials.values())
    wall = now - s.budget.started_at if s.budget.started_at else 0.0
    return dataclasses.replace(s.budget, steps=steps, wall_time_s=round(max(0.0, wall), 3))


def enforce(book: SweepBook, spec: BudgetSpec, now: float, running: bool) -> bool:
    """Bring the carried figures up to date and, when a limit is reached while something would still train
    (`running` segments, or a job to start), stop the sweep as the `stop` signal does, saying why. True when
    this call stopped it."""
    s = book.s
    s.budget = measure(book, now)
    if s.stopping:
        return False
    hit = spent(spec, s.budget)
    if hit is None or not (running or book.next_job() is not None):
        return False
    s.budget.spent, s.budget.detail = hit
    s.stopping = True
    book.decide("stop_sweep", -1, -1, f"budget spent: {hit[1]}; running segments finish, nothing new starts")
    return True


def time_left(spec: BudgetSpec, state: SweepState, now: float) -> float | None:
    """Seconds until the wall-time limit (None: none set, already stopping, or already past it)."""
    if not spec.max_wall_time_s or state.stopping or not state.budget.started_at:
        return None
    left = spec.max_wall_time_s - (now - state.budget.started_at)
    return left if left > 0 else None


class Guard:
    """The budget in LadderSweepWorkflow: inactive (every call a no-op, no timer) for a sweep without one,
    and for histories recorded before the `sweep-budget` patch."""

    def __init__(self, spec: BudgetSpec, book: SweepBook) -> None:
        self.spec, self.book = spec, book
        self.on = active(spec) and workflow.patched(PATCH)
        if self.on and not book.s.budget.started_at:  # the first run: the wall time counts from here
            book.s.budget.started_at = workflow.now().timestamp()

    def enforce(self, running: bool) -> None:
        if self.on:
            enforce(self.book, self.spec, workflow.now().timestamp(), running)

    async def wait(self, wake: Callable[[], bool]) -> None:
        """Wait until `wake()`, or until the wall-time limit (a timer) when one is set."""
        left = time_left(self.spec, self.book.s, workflow.now().timestamp()) if self.on else None
        if left is None:
            await workflow.wait_condition(wake)
            return
        with contextlib.suppress(TimeoutError):  # at the limit the loop's next turn stops the sweep
            await workflow.wait_condition(wake, timeout=left, timeout_summary="the sweep's max_wall_time")

    def used(self) -> BudgetUsed:
        return measure(self.book, workflow.now().timestamp())
