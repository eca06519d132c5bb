"""Hyperband: synchronous successive halving in several brackets that trade the number of trials against
the budget each starts with, from many trials at the smallest rung to few at the largest (Li et al.,
"Hyperband: A Novel Bandit-Based Approach to Hyperparameter Optimization", JMLR 18(185), 2018, Alg. 1).
Each bracket decides its rungs as `sha` does; only the plan differs (`ladder.hyperband_brackets`).
"""

from __future__ import annotations

from workflows.schedulers.sha import ShaScheduler


class HyperbandScheduler(ShaScheduler):
    kind = "hyperband"
