"""Asynchronous successive halving (ASHA): a trial waiting at a rung goes up as soon as it is in the top
floor(n / eta) of the n results reported there so far; once the rung is closed, the trials still waiting
there stop. One bracket, which `extend` grows (Li et al., "A System for Massively Parallel Hyperparameter
Tuning", MLSys 2020, Alg. 2). Decisions follow the order results arrive in; `asha_ordered` is the variant
independent of timing.
"""

from __future__ import annotations

from collections.abc import Callable

from workflows.ladder import asha_promotable
from workflows.schedulers.base import Scheduler
from workflows.schedulers.book import SweepBook
from workflows.schedulers.mo_ranking import standing


class AshaScheduler(Scheduler):
    kind = "asha"

    def extend_trials(self, book: SweepBook, trials: int, to_steps: Callable[[list[float]], list[int]]) -> None:
        book.s.brackets[-1].size += trials  # the ladder's one bracket (after a rung probe's)

    def decide(self, book: SweepBook, bracket: int, rung: int, waiting: list[int], results: dict[int, float],
               reported: int, closed: bool) -> None:
        eta = book.input.eta
        gone = {t.number for t in book.members(bracket) if t.target > rung or t.rung > rung}
        for n in asha_promotable(results, gone, eta, book.ranking_direction, reported):
            if n in waiting:
                book.promote(n, rung, f"{standing(results, n)}in the top 1/{eta} of {reported} reported", bracket)
        if closed:
            for n in waiting:
                if book.waiting(n, bracket):
                    book.stop(n, rung, f"{standing(results, n)}not in the top 1/{eta} of {reported} at the rung's "
                                       f"close", bracket)
