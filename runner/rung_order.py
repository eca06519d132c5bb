"""Rungs that rank trials unlike the top rung: a ladder promotes on a low rung's ranking, which is worth
something only where it is the ranking the top rung would give. Where good configurations start slowly
(a learning rate that needs a warmup, a problem whose low fidelities mislead), the first rung ranks them
low and stops them, and the sweep keeps promoting the fast starters.

The rule, per bracket and per promoting rung r (below the bracket's top rung):

- pairs: the trials of the bracket that reached its top rung, each with its monitored value at r and at
  the top (finite values only);
- Spearman's rank correlation of the two (ties share their mean rank); with at least MIN_PAIRS pairs and
  a correlation below AGREEMENT, the rung ranks unlike the top.

Only trials that reached the top can be compared, and the rungs below chose them, so the pairs span a
narrower range than all the trials did; that lowers a correlation measured on noisy values, so the warning
errs towards speaking. It judges the ranking of the trials that went on, not the good ones a rung stopped:
the shipped `bert_sweep` (-0.19: the highest learning rates lead at 30 steps and finish worst;
benchmarks/README.md, "Rung signal") is named, but the search-efficiency benchmark's `crossing3`, whose
first rung ranks all points nearly independently of the top (0.24), ranks the few that survive it much as
the top does (0.57 in a 162-trial asha sweep) and is not (tests/workflows/test_rung_order_sweep.py).
`misranking_rungs` applies it to a sweep's result; `order_line` words one rung.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from workflows.payloads.records import TrialState
from workflows.payloads.sweep import RungRow
from workflows.rank_correlation import AGREEMENT, spearman

MIN_PAIRS = 5
"""Fewer trials at the top say too little about a ranking."""
__all__ = ["AGREEMENT", "MIN_PAIRS", "Misranking", "misranking_rungs", "order_line", "spearman"]


@dataclass(frozen=True)
class Misranking:
    bracket: int
    rung: int
    steps: int
    top_steps: int
    pairs: int
    correlation: float


def misranking_rungs(trials: list[TrialState], rungs: list[RungRow]) -> list[Misranking]:
    """Each promoting rung (below its bracket's top, from `rungs`) whose ranking of the trials that reached
    the top correlates with the top's below AGREEMENT, over at least MIN_PAIRS of them; by bracket and rung."""
    tops: dict[int, int] = {}
    for row in rungs:
        tops[row.bracket] = max(tops.get(row.bracket, 0), row.rung)
    found = []
    for bracket, top in sorted(tops.items()):
        reached = [t for t in trials if t.bracket == bracket and len(t.metrics) > top and len(t.rung_steps) > top
                   and math.isfinite(t.metrics[top])]
        for rung in range(top):
            pairs = [t for t in reached if math.isfinite(t.metrics[rung])]
            if len(pairs) < MIN_PAIRS:
                continue
            rho = spearman([t.metrics[rung] for t in pairs], [t.metrics[top] for t in pairs])
            if rho is not None and rho < AGREEMENT:
                found.append(Misranking(bracket, rung, statistics.mode(t.rung_steps[rung] for t in pairs),
                                        statistics.mode(t.rung_steps[top] for t in pairs), len(pairs), rho))
    return found


def order_line(found: Misranking, brackets: int = 1) -> str:
    """One rung, as `train-tune results` prints it (the bracket named only where there are several)."""
    where = f"bracket {found.bracket} rung {found.rung}" if brackets > 1 else f"rung {found.rung}"
    return (f"warning: {where} ({found.steps} steps) ranks the {found.pairs} trials that reached the top rung "
            f"({found.top_steps} steps) unlike the top does (Spearman {found.correlation:+.2f}); its promotions may "
            f"stop configurations that start slowly — start the ladder later (ladder.rungs, or let "
            f"ladder.probe_trials find where) or check the lr range")
