"""The scheduler interface: what a ladder sweep's kind decides, as a pure object over its `SweepBook` (in
the spirit of Ray Tune's `TrialScheduler` and Optuna's pruners). Everything a scheduler reads or writes
lives in the book's carried state, so one holds no state of its own and imports nothing of Temporal; the
workflow asks the book, which asks `scheduler_for(kind, ordered)`. What every kind shares lives here and in
the book: which job starts next (`SweepBook.next_job`), how a result is recorded (`SweepBook.on_result`),
how `extend --rungs` grows every bracket (`SweepBook.extend`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from workflows.ladder import bracket_templates, deal_plan
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import LIVE_STATES, ExtendRequest
from workflows.schedulers.book import SweepBook, queue
from workflows.schedulers.rung_probe import ladder_brackets


class Scheduler(ABC):
    kind: ClassVar[str]

    def plan(self, rungs: list[float], eta: int, n_trials: int) -> list[tuple[list[float], int]]:
        """The brackets of `n_trials`: (rung budgets, size) each, in the ladder's unit."""
        return deal_plan(bracket_templates(self.kind, rungs, eta, n_trials), n_trials)

    def extend_trials(self, book: SweepBook, trials: int, to_steps: Callable[[list[float]], list[int]]) -> None:
        """`extend` by `trials`: new brackets over the ladder's rungs, from a rung probe's choice if it made
        one (and the rungs added so far)."""
        book.s.brackets.extend(ladder_brackets(book, trials, to_steps))

    @abstractmethod
    def decide(self, book: SweepBook, bracket: int, rung: int, waiting: list[int], results: dict[int, float],
               reported: int, closed: bool) -> None:
        """Decide on the trials `waiting` at `rung` of `bracket` (their numbers, sorted; parked ones
        included) through `book.promote` and `book.stop`. `results`: the results there of the bracket's
        trials in the state and the best archived ones; `reported`: how many reported there in all;
        `closed`: no trial of the bracket can still report there (`SweepBook.closed`)."""

    def refuse_extend(self, request: ExtendRequest) -> str:
        """Why this kind cannot grow as `request` asks ('' when it can)."""
        return ""

    def archive_reach(self, bracket_size: int, eta: int) -> int:
        """How many of a rung's archived results a decision can still reach (the rest are only counted)."""
        return max(1, bracket_size // eta)

    def may_leave(self, book: SweepBook, trial: TrialState) -> bool:
        """Whether the record of a final or waiting trial may be archived (see `archive_book.leaving`)."""
        return True

    def reopen(self, book: SweepBook, bracket: int, old_top: int) -> None:
        """`extend --rungs`: the old top rung gets decisions. In promotion-order mode (`SweepState.
        by_promotion`, ordered asha) nothing was queued at a top rung, so its trials (completed there, now
        waiting, or promoted towards it) are queued in number order (`asha_ordered`)."""
        b = book.s.brackets[bracket]
        if not book.s.by_promotion or old_top == 0 or b.probe:  # a rung probe's trials all go up
            return
        numbers = [t.number for t in book.members(bracket) if t.target == old_top and (
            t.state in LIVE_STATES or t.state == "waiting" and t.rung == old_top)]
        numbers += [n for n, target in zip(b.parked.numbers, b.parked.targets, strict=False) if target == old_top]
        queue(b, old_top)[:] = sorted(numbers)
