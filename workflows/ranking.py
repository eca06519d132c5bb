"""How results rank, defined once: better first by the sweep's direction, NaN (a diverged training)
last, whatever the direction. The ladder's promotions, the leaderboard, the sampler's history window and
the runner's plots all sort by this key (pure; safe in workflow code)."""

from __future__ import annotations

import math

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
