"""Successive-halving rung maths: pure, deterministic functions (safe in workflow code, testable alone).

Notation (Jamieson & Talwalkar 2016; Li et al., "Hyperband", JMLR 2018; Li et al., "ASHA", MLSys 2020):
budgets are in the ladder's unit (steps, epochs or a data fraction), `r_min` the smallest rung budget,
`R = r_max / r_min`, `eta >= 2` the reduction factor, `s_max = floor(log_eta R)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from workflows.payloads.choices import LADDER_UNITS
from workflows.payloads.specs import TrainerSpec
from workflows.ranking import DIRECTIONS, nan_last


class LadderError(ValueError):
    """An invalid ladder setting; the message names the key, the value and what is valid."""


def s_max(min_budget: float, max_budget: float, eta: int) -> int:
    """floor(log_eta(max/min)), computed without float drift at exact powers (81/1 with eta 3 -> 4)."""
    ratio, s = max_budget / min_budget, 0
    while ratio >= eta ** (s + 1) * (1 - 1e-12):
        s += 1
    return s


def geometric_rungs(min_budget: float, max_budget: float, eta: int) -> list[float]:
    """Rung budgets r_k = max_budget * eta^(k - s_max), k = 0..s_max: the top rung is exactly max_budget
    and each rung is eta times the one below (the bottom one >= min_budget)."""
    validate_budgets(min_budget, max_budget, eta)
    top = s_max(min_budget, max_budget, eta)
    return [max_budget / eta ** (top - k) for k in range(top + 1)]


def validate_budgets(min_budget: float, max_budget: float, eta: int) -> None:
    if eta < 2:
        raise LadderError(f"ladder.eta is {eta}, but must be >= 2")
    if min_budget <= 0:
        raise LadderError(f"ladder.min_budget is {min_budget}, but must be > 0")
    if max_budget < min_budget:
        raise LadderError(f"ladder.max_budget is {max_budget}, but must be >= ladder.min_budget ({min_budget})")


def validate_rungs(rungs: Sequence[float], eta: int) -> None:
    """Explicit rungs: at least one, positive and strictly increasing; eta >= 2."""
    if eta < 2:
        raise LadderError(f"ladder.eta is {eta}, but must be >= 2")
    if not rungs:
        raise LadderError("ladder.rungs is [], but needs at least one budget")
    if rungs[0] <= 0 or any(b <= a for a, b in zip(rungs, rungs[1:], strict=False)):
        shown = ", ".join(f"{r:g}" for r in rungs)
        raise LadderError(f"ladder.rungs is [{shown}], but must be positive and strictly increasing")


def promotion_count(n: int, eta: int) -> int:
    """Synchronous successive halving keeps floor(n / eta) of n trials at a rung (at least 1 if n > 0)."""
    return max(1, n // eta) if n > 0 else 0


def top_k(results: dict[int, float], k: int, direction: str) -> list[int]:
    """The k best trial numbers by metric ('maximize' or 'minimize'); NaN ranks last and ties go to the
    lower trial number, so the order is deterministic."""
    if direction not in DIRECTIONS:
        raise LadderError(f"direction is '{direction}', but must be 'maximize' or 'minimize'")
    ranked = sorted(results.items(), key=lambda item: (*nan_last(item[1], direction), item[0]))
    return [trial for trial, _ in ranked[:k]]


def sha_promotions(results: dict[int, float], eta: int, direction: str, reported: int | None = None) -> list[int]:
    """SHA: once every trial of a rung has reported, the best floor(n/eta) go up one rung. `n` is `reported`
    when given (results may leave out archived trials that cannot rank that high), else len(results)."""
    n = len(results) if reported is None else reported
    return top_k(results, promotion_count(n, eta), direction)


def asha_promotable(results: dict[int, float], promoted: set[int], eta: int, direction: str,
                    reported: int | None = None) -> list[int]:
    """ASHA (Li et al. 2020, Alg. 2): a trial may go up as soon as it is in the top floor(n/eta) of the n
    trials that have reported at its rung so far and has not gone up already. Best first. `n` is `reported`
    when given (see `sha_promotions`), else len(results)."""
    k = (len(results) if reported is None else reported) // eta
    return [trial for trial in top_k(results, k, direction) if trial not in promoted]


def hyperband_brackets(min_budget: float, max_budget: float, eta: int) -> list[list[tuple[int, float]]]:
    """Hyperband's brackets s = s_max..0, each a list of (n_i, r_i) rungs (Li et al. 2018, Alg. 1):

        B = (s_max + 1) R,  n = ceil(B / R * eta^s / (s + 1)),  r = R eta^-s,
        n_i = floor(n eta^-i),  r_i = r eta^i  for i = 0..s,

    with budgets scaled back to the ladder's unit (multiplied by min_budget).
    """
    validate_budgets(min_budget, max_budget, eta)
    top = s_max(min_budget, max_budget, eta)
    big_r = eta**top  # R in units of min_budget, rounded down to a power of eta
    budget = (top + 1) * big_r
    brackets = []
    for s in range(top, -1, -1):
        n = math.ceil(budget / big_r * eta**s / (s + 1))
        r = big_r / eta**s
        brackets.append([(n // eta**i, r * eta**i * min_budget) for i in range(s + 1)])
    return brackets


def steps_per_epoch(examples: int, trainer: TrainerSpec) -> int:
    """Optimiser steps in one pass over `examples`: ceil(batches / trainer.accumulate_grad_batches), since
    Lightning also steps after an epoch's last batch when fewer batches than that have added up."""
    batches = -(-examples // trainer.batch_size)
    return -(-batches // trainer.accumulate_grad_batches)


def budget_to_steps(budget: float, unit: str, steps_per_epoch: int) -> int:
    """A rung budget in training steps: steps as given; epochs and data fractions (fraction f of one pass
    over the training split) as ceil(budget * steps_per_epoch), at least one step."""
    if unit == "steps":
        return int(round(budget))
    if unit in ("epochs", "fraction"):
        return max(1, math.ceil(budget * steps_per_epoch - 1e-9))
    raise LadderError(f"ladder.unit is '{unit}', but must be one of: {', '.join(LADDER_UNITS)}")


def deal_trials(bracket_sizes: Sequence[int], n_trials: int) -> list[int]:
    """Deal `n_trials` to brackets in order, filling each before the next and starting the cycle again
    when one round of brackets is full (a Hyperband iteration). Returns the size of each bracket used,
    cycle after cycle: sizes (9, 5, 3) with 20 trials give [9, 5, 3, 3]."""
    sizes: list[int] = []
    left = n_trials
    while left > 0:
        for size in bracket_sizes:
            if left <= 0:
                break
            sizes.append(min(size, left))
            left -= sizes[-1]
    return sizes


PROMOTES_ALL = ("none", "pbt")
"""Ladder kinds whose every trial goes on at every rung (no ladder; population-based training)."""


def bracket_templates(kind: str, rungs: Sequence[float], eta: int, n_trials: int) -> list[tuple[list[float], int]]:
    """(rung budgets, size) of each bracket of one round: Hyperband's brackets from (min, max, eta), or
    one bracket of `n_trials` over `rungs` for sha, asha and none."""
    if kind == "hyperband":
        return [([r for _, r in bracket], bracket[0][0]) for bracket in hyperband_brackets(rungs[0], rungs[-1], eta)]
    return [(list(rungs), n_trials)]


def deal_plan(templates: Sequence[tuple[list[float], int]], n_trials: int) -> list[tuple[list[float], int]]:
    """The brackets `n_trials` fill, round after round of `templates` (see `deal_trials`)."""
    sizes = deal_trials([size for _, size in templates], n_trials)
    return [(list(templates[i % len(templates)][0]), size) for i, size in enumerate(sizes)]
