"""Rank correlation, pure (safe in workflow code): Pearson's r, 1-based ranks with ties sharing their mean
rank, and Spearman's rho = Pearson's r of the ranks (as scipy.stats.spearmanr). The regression metrics
(`activities.regression_metrics`), the `results` warning on misranking rungs (`runner.rung_order`) and the
sweep's rung probe (`workflows.schedulers.rung_probe`) all use these."""

from __future__ import annotations

import math

AGREEMENT = 0.5
"""Below this rank correlation with the top rung, a rung's ranking is called unlike the top's (the `results`
warning, `runner.rung_order`)."""


def pearson(x: list[float], y: list[float]) -> float:
    """Pearson's r; 0.0 when either side is constant (no linear relation can be measured) or n < 2."""
    n = len(x)
    if n < 2:
        return 0.0
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation of paired values; None where it is undefined (fewer than 3 pairs, or one
    side all equal)."""
    if len(a) != len(b) or len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    return pearson(ranks(a), ranks(b))
