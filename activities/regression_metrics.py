"""Regression metrics of one evaluated split: MSE, MAE, Pearson's r and Spearman's rho.

- MSE = mean((p - y)^2), MAE = mean(|p - y|), in the label's own units.
- Pearson's r = cov(p, y) / (sd(p) sd(y)); 0.0 when either side is constant (no linear relation can be
  measured, and a constant predictor should not score as undefined).
- Spearman's rho = Pearson's r of the ranks, ties given their average rank (as scipy.stats.spearmanr).

Pure Python on lists of floats, so it is testable without torch.
"""

from __future__ import annotations

import math


def pearson(x: list[float], y: list[float]) -> float:
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


def regression_report(predicted: list[float], actual: list[float]) -> dict[str, float]:
    """{mse, mae, pearson, spearman} of one split (all 0.0 when it is empty)."""
    n = len(actual)
    if not n:
        return {"mse": 0.0, "mae": 0.0, "pearson": 0.0, "spearman": 0.0}
    errors = [p - y for p, y in zip(predicted, actual, strict=True)]
    return {
        "mse": sum(e * e for e in errors) / n,
        "mae": sum(abs(e) for e in errors) / n,
        "pearson": pearson(predicted, actual),
        "spearman": pearson(ranks(predicted), ranks(actual)),
    }
