"""Regression metrics of one evaluated split: MSE, MAE, Pearson's r and Spearman's rho.

- MSE = mean((p - y)^2), MAE = mean(|p - y|), in the label's own units.
- Pearson's r = cov(p, y) / (sd(p) sd(y)); 0.0 when either side is constant (no linear relation can be
  measured, and a constant predictor should not score as undefined).
- Spearman's rho = Pearson's r of the ranks, ties given their average rank (as scipy.stats.spearmanr).

Pure Python on lists of floats, so it is testable without torch.
"""

from __future__ import annotations

from workflows.rank_correlation import pearson, ranks

__all__ = ["pearson", "ranks", "regression_report"]


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
