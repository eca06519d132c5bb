"""Rungs whose promotions are close to random: the monitored metric barely differs across the trials
evaluated there, less than the metric's own noise, so the ranking that picks who goes on is mostly noise.

The rule, per rung of a ladder sweep (each bracket's rungs below its top rung; the top rung promotes no one):

- spread: max - min of the monitored metric over the trials evaluated at that rung (finite values only;
  at least 2 trials). Max - min rather than an IQR: a warning should mean that *every* trial there is
  within noise of every other. One outlier (a diverged learning rate) therefore silences it, although
  the ranking among the rest may still be noise; the warning errs towards silence.
- noise, for a metric that is a share of the validation examples or an average of such shares
  (`*accuracy`, `*f1`, `*precision`, `*recall`): the binomial standard error of a proportion,
  sqrt(p (1 - p) / n_val), at p = the rung's median value and n_val = the validation split's size.
  For macro-F1 this is an approximation of its order, not its exact error.
- noise, for any other metric (a loss, a cost) or where n_val is unknown: RELATIVE_NOISE (1%) of the
  rung's median's magnitude. A loss's own standard error would need every example's loss, which a rung
  result does not keep; 1% is a threshold, not an estimate.
- within noise: spread <= noise (all-equal values, spread 0, always are: their ranking is a tie-break).

`noisy_rungs` applies it to a sweep's result; `warning_line` words one affected rung.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from workflows.payloads.records import TrialState
from workflows.payloads.sweep import RungRow

RELATIVE_NOISE = 0.01
"""The noise of a metric that is not a proportion (or whose validation size is unknown): this share of the
magnitude of the rung's median value."""
PROPORTION_SUFFIXES = ("accuracy", "f1", "precision", "recall")


@dataclass(frozen=True)
class RungSpread:
    spread: float
    """max - min of the finite values (nan with fewer than 2)."""
    noise: float
    trials: int
    """Finite values counted."""
    within_noise: bool


@dataclass(frozen=True)
class NoisyRung:
    bracket: int
    rung: int
    steps: int
    metric: str
    figures: RungSpread


def is_proportion(metric: str) -> bool:
    return metric.lower().endswith(PROPORTION_SUFFIXES)


def noise_level(metric: str, values: list[float], n_val: int | None) -> float:
    """The metric's noise at these values (module docstring): a proportion's standard error at `n_val`
    examples, else RELATIVE_NOISE of the median's magnitude."""
    median = statistics.median(values)
    if is_proportion(metric) and n_val and 0.0 <= median <= 1.0:
        return math.sqrt(median * (1.0 - median) / n_val)
    return RELATIVE_NOISE * abs(median)


def rung_spread(metric: str, values: list[float], n_val: int | None) -> RungSpread:
    """The spread of one rung's values against their noise (nan and not within noise below 2 values)."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return RungSpread(math.nan, math.nan, len(finite), False)
    spread, noise = max(finite) - min(finite), noise_level(metric, finite, n_val)
    return RungSpread(spread, noise, len(finite), spread <= noise)


def noisy_rungs(trials: list[TrialState], rungs: list[RungRow], metric: str, n_val: int | None) -> list[NoisyRung]:
    """Each promoting rung (below its bracket's top, from `rungs`) whose trials' monitored values
    (`TrialState.metrics`) spread within noise, by bracket and rung."""
    tops: dict[int, int] = {}
    for row in rungs:
        tops[row.bracket] = max(tops.get(row.bracket, 0), row.rung)
    found = []
    for bracket, top in sorted(tops.items()):
        for rung in range(top):
            reached = [t for t in trials if t.bracket == bracket and len(t.metrics) > rung]
            figures = rung_spread(metric, [t.metrics[rung] for t in reached], n_val)
            if figures.within_noise:
                steps = statistics.mode(t.rung_steps[rung] for t in reached if len(t.rung_steps) > rung)
                found.append(NoisyRung(bracket, rung, steps, metric, figures))
    return found


def warning_line(noisy: NoisyRung, brackets: int = 1) -> str:
    """One affected rung, as `train-tune results` prints it (the bracket named only where there are several)."""
    where = f"bracket {noisy.bracket} rung {noisy.rung}" if brackets > 1 else f"rung {noisy.rung}"
    f = noisy.figures
    return (f"warning: {where} ({noisy.steps} steps): {noisy.metric} spread {_figure(f.spread)} across {f.trials} "
            f"trials is within noise (±{_figure(f.noise)}); promotions there are close to random — raise the rung "
            f"or the lr range")


def _figure(value: float) -> str:
    return f"{value:.2g}"
