"""Which finished trials the sampler learns from: a bounded window, so proposing trial n costs the same
at n = 50 and at n = 5,000 (pure; safe in workflow code)."""

from __future__ import annotations

from workflows.messages import FinishedTrial

LEARNS_FROM_HISTORY = ("tpe",)
"""Samplers that use finished trials; random, QMC and grid depend only on (seed, trial number)."""


def rank_key(trial: FinishedTrial, direction: str) -> tuple:
    """Best first, the way Optuna ranks mixed trials: complete before pruned, a pruned trial that got
    further (higher step) before one stopped earlier, then by value (NaN last), then by number."""
    value = trial.value if trial.value is not None else float("nan")
    sign = -1.0 if direction == "maximize" else 1.0
    return (trial.state != "complete", -trial.step, value != value, sign * (value if value == value else 0.0),
            trial.number)


def sampler_window(trials: list[FinishedTrial], limit: int, direction: str) -> list[FinishedTrial]:
    """At most `limit` trials: the best ceil(limit / 4) by `rank_key`, then the most recent (by number)
    of the rest, ordered by number.

    TPE splits the trials it knows into the best gamma(n) = min(ceil(0.1 n), 25) ("below", which shapes
    l(x)) and the rest ("above", g(x)), and proposes the candidate maximising l(x) / g(x). With
    limit >= 100 the window always holds the 25 best trials, so l(x) is the one the full history gives;
    g(x) is estimated from the other best and the most recent trials instead of from all of them.
    """
    if len(trials) <= limit:
        return sorted(trials, key=lambda t: t.number)
    best = sorted(trials, key=lambda t: rank_key(t, direction))[:-(-limit // 4)]
    chosen = {t.number for t in best}
    recent = sorted((t for t in trials if t.number not in chosen), key=lambda t: -t.number)[:limit - len(best)]
    return sorted([*best, *recent], key=lambda t: t.number)
