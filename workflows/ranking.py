"""How results rank, defined once: better first by the sweep's direction, NaN (a diverged training)
last, whatever the direction. The ladder's promotions, the leaderboard, the sampler's history window and
the runner's plots all sort by this key; the leaderboard ranks trials by it (pure; safe in workflow code)."""

from __future__ import annotations

import math

from workflows.payloads.records import TrialState

DIRECTIONS = ("minimize", "maximize")
"""The directions a sweep may optimise its monitored metric in."""


def nan_last(value: float, direction: str) -> tuple[bool, float]:
    """Sort key of one result: ascending order puts the best first and every NaN after every number.

    Args:
        value: the metric (NaN when the training diverged).
        direction: 'minimize' or 'maximize' (anything else ranks as 'minimize').
    """
    if math.isnan(value):
        return True, 0.0
    return False, -value if direction == "maximize" else value


def leaderboard_order(trials: list[TrialState], direction: str) -> list[int]:
    """Trials with a result, best first: the higher the rung step reached the better, then the metric at
    it (NaN last), then the trial number."""
    scored = [t for t in trials if t.metrics and t.state != "failed"]
    return [t.number for t in sorted(scored, key=lambda t: (-t.rung_steps[-1], *nan_last(t.metrics[-1], direction),
                                                              t.number))]
