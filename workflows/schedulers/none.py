"""No ladder: every trial trains through every rung; a rung's close promotes all its results (ranked, for
the decision log) and nothing stops early. Rung results are only reported, so archived ones need not be
kept for any ranking. The baseline the successive-halving kinds are measured against (random or Bayesian
search at full budget; Bergstra & Bengio, "Random Search for Hyper-Parameter Optimization", JMLR 2012).
"""

from __future__ import annotations

from workflows.ladder import top_k
from workflows.schedulers.sha import ShaScheduler


class NoLadder(ShaScheduler):
    kind = "none"

    def keep(self, results: dict[int, float], eta: int, direction: str, reported: int) -> list[int]:
        return top_k(results, len(results), direction)

    def archive_reach(self, bracket_size: int, eta: int) -> int:
        return 0
