"""Whether `extend` may grow a ladder sweep as asked (the update's validator): the sweep still runs, the
request adds something, its kind can grow that way, the state can hold the trials and new rungs lie above
the current top (pure; safe in workflow code)."""

from __future__ import annotations

from workflows.ladder import budget_to_steps
from workflows.payloads.sweep import ExtendRequest
from workflows.schedulers import rung_probe
from workflows.schedulers.book import SweepBook


def validate_extend(book: SweepBook, request: ExtendRequest, done: bool) -> None:
    """Raise ValueError (the update is rejected, nothing changes) naming what is wrong with `request`;
    `done`: the sweep has ended."""
    if done or book.s.stopping:
        raise ValueError("the sweep is stopping or has ended; start a new sweep instead")
    if request.trials < 0:
        raise ValueError(f"extend trials is {request.trials}, but must be >= 0")
    if request.trials and rung_probe.probing(book):
        raise ValueError(f"extend trials is {request.trials}, but the sweep's rung probe ({book.input.probe_trials} "
                         f"trials) has not chosen the ladder's first rung yet; extend once it has")
    refused = book.scheduler.refuse_extend(request)
    if refused:
        raise ValueError(refused)
    total = book.next_number() + sum(b.size - len(b.proposed) - b.archived_trials for b in book.s.brackets)
    if book.input.max_trials and total + request.trials > book.input.max_trials:
        raise ValueError(f"extend trials is {request.trials}, but this sweep's state fits at most "
                         f"{book.input.max_trials} trials in one Temporal payload ({total} planned already); "
                         f"start a second sweep instead")
    if not request.trials and not request.rungs:
        raise ValueError("extend needs trials > 0 or at least one rung above the current top")
    if request.rungs:
        if not book.s.brackets:
            raise ValueError("the sweep has not planned its rungs yet; try again in a moment")
        current = max(b.rungs[-1] for b in book.s.brackets)
        steps = [budget_to_steps(r, book.input.unit, book.s.steps_per_epoch) for r in request.rungs]
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)) or steps[0] <= current:
            raise ValueError(f"extend rungs {list(request.rungs)} ({book.input.unit}) give steps {steps}, "
                             f"but must be strictly increasing and above the current top rung ({current} steps)")
