"""Synchronous successive halving (SHA): once no trial of a bracket can still report at a rung (the rung is
closed), the best floor(n / eta) of the n results there go on to the next rung and the rest stop, each
rung decided once (Jamieson & Talwalkar, "Non-stochastic Best Arm Identification and Hyperparameter
Optimization", AISTATS 2016; Karnin et al., "Almost Optimal Exploration in Multi-Armed Bandits", ICML 2013).
"""

from __future__ import annotations

from workflows.ladder import sha_promotions
from workflows.payloads.sweep import BracketState
from workflows.schedulers.base import Scheduler
from workflows.schedulers.book import SweepBook
from workflows.schedulers.mo_ranking import Ranking


class ShaScheduler(Scheduler):
    kind = "sha"

    def keep(self, results: dict[int, float], eta: int, direction: str, reported: int) -> list[int]:
        """The trials of a closed rung that go on."""
        return sha_promotions(results, eta, direction, reported)

    @staticmethod
    def close(b: BracketState, rung: int, closed: bool) -> bool:
        """Whether `rung` of bracket `b` is decided now: closed and not decided before (then marked so)."""
        if not closed or rung in b.decided:
            return False
        b.decided.append(rung)
        return True

    def decide(self, book: SweepBook, bracket: int, rung: int, waiting: list[int], results: dict[int, float],
               reported: int, closed: bool) -> None:
        b, input = book.s.brackets[bracket], book.input
        if not self.close(b, rung, closed):
            return
        keep = self.keep(results, input.eta, book.ranking_direction, reported)
        for n in waiting:
            score = results.standing(n) if isinstance(results, Ranking) else f"{input.direction} {results[n]:.4f}"
            why = f"{score}; top {len(keep)} of {reported} go on to {b.rungs[rung + 1]} steps"
            if n in keep:
                book.promote(n, rung, why, bracket)
            else:
                book.stop(n, rung, why, bracket)
