"""A single run's parameter schedule (`schedule:` in the run config; `TrainEvalInput.schedule`) as training
segments: the run trains from one change step to the next with the parameters in force there, each segment
resuming from the run's own checkpoint at its start step, and the LR schedule spanning trainer.max_steps as
for one straight training. A population-based training member's lineage is such a schedule
(`runner.best_config`). Pure: safe in workflow code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from workflows.payloads.runs import ScheduledParams

FIXED_KEYS = {"trainer.max_steps": "the segments and the LR schedule span it; set it outside the schedule"}
"""Keys `apply_params` accepts that a schedule may not change, with why."""


class Segment(NamedTuple):
    """Train from global step `start` to `stop` with `params` set over the run's config (a value inside the
    workflow, never a payload)."""

    start: int
    stop: int
    params: dict[str, Any]
    """Every scheduled parameter in force in the segment: its entry's, over the earlier entries'."""


def segments(schedule: Sequence[ScheduledParams], max_steps: int) -> list[Segment]:
    """The segments a run with `schedule` trains (entries at strictly increasing steps in [0, max_steps),
    as `runner.schedule_config` validates): one per entry, and one from step 0 with the config's own
    values when the first entry starts later."""
    starts: list[tuple[int, dict[str, Any]]] = [] if schedule and schedule[0].step == 0 else [(0, {})]
    merged: dict[str, Any] = {}
    for entry in schedule:
        merged = {**merged, **entry.params}
        starts.append((entry.step, merged))
    stops = [step for step, _ in starts[1:]] + [max_steps]
    return [Segment(start, stop, params) for (start, params), stop in zip(starts, stops, strict=True)]
