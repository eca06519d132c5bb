"""The analytic multi-fidelity problems of the search benchmarks, in pure Python (stdlib only: no temporalio,
no numpy), so that every arm evaluates the same code: train-tune's stand-in training
(`standin_training.AnalyticTraining`), the Optuna arms in process and the peer arms (DEHB, SMAC3, Syne Tune)
in their own virtual environment (benchmarks/peers.py).

A problem is `f(x, s)` on the unit cube with fidelity s = steps / 81 in (0, 1]; s = 1 is the value that
counts (its optimum is known), lower s is what a rung sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# --- BoTorch's augmented Hartmann ----------------------------------------------------------------------
HARTMANN_ALPHA = (1.0, 1.2, 3.0, 3.2)
HARTMANN3_A = ((3.0, 10, 30), (0.1, 10, 35), (3.0, 10, 30), (0.1, 10, 35))
HARTMANN3_P = ((0.3689, 0.1170, 0.2673), (0.4699, 0.4387, 0.7470), (0.1091, 0.8732, 0.5547),
               (0.0381, 0.5743, 0.8828))
HARTMANN6_A = ((10, 3, 17, 3.5, 1.7, 8), (0.05, 10, 17, 0.1, 8, 14), (3, 3.5, 1.7, 10, 17, 8),
               (17, 8, 0.05, 10, 0.1, 14))
HARTMANN6_P = ((0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886), (0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991),
               (0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650), (0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381))
HARTMANN_OPTIMUM = {3: -3.86278, 6: -3.32237}
HARTMANN_WORST = {3: 0.0, 6: 0.0}
HARTMANN3_ARGMIN = (0.114614, 0.555649, 0.852547)


def augmented_hartmann(dims: int) -> Callable[[Sequence[float], float], float]:
    """f(x, s) = -sum_i a_i(s) exp(-sum_j A_ij (x_j - P_ij)^2) with a_1(s) = alpha_1 - 0.1 (1 - s): the
    Hartmann function at full fidelity s = 1 (minimum -3.86278 in 3-D, -3.32237 in 6-D), a biased
    version of it below (BoTorch's AugmentedHartmann, generalised to 3-D)."""
    a, p = (HARTMANN3_A, HARTMANN3_P) if dims == 3 else (HARTMANN6_A, HARTMANN6_P)

    def f(x: Sequence[float], fidelity: float) -> float:
        total = 0.0
        for i in range(4):
            alpha = HARTMANN_ALPHA[i] - (0.1 * (1.0 - fidelity) if i == 0 else 0.0)
            total += alpha * math.exp(-sum(a[i][j] * (x[j] - p[i][j]) ** 2 for j in range(dims)))
        return -total

    return f


# --- Hartmann 3-D under crossing learning curves (low fidelities mislead) --------------------------------
CROSSING_SLOW, CROSSING_FAST, CROSSING_WIDTH, CROSSING_DECOY = 1.0, 30.0, 0.15, 4.0


def crossing_hartmann3() -> Callable[[Sequence[float], float], float]:
    """Hartmann 3-D reached along learning curves that cross (the "good configurations learn slowly"
    pattern of small learning rates or strong regularisation): a point's value at fidelity s is

        f(x, s) = h(x) * (1 - exp(-k(x) s)) / (1 - exp(-k(x))) - DECOY * |x - x*|^2 / 3 * (1 - s)^2,
        k(x) = SLOW + (FAST - SLOW) * (1 - exp(-|x - x*|^2 / WIDTH)),

    h the Hartmann 3-D function, x* its minimiser: an exponential learning curve from 0 to h(x) whose rate k
    is slowest (1 per full training) at the optimum and fastest (30) far from it, plus a transient that
    favours points far from x* early in training and fades at full training (DECOY = 4). At s = 1 it is
    Hartmann 3-D exactly (minimum -3.86278 at x*); at 3 steps of 81 the optimum shows -0.22 while a far
    corner (0.9, 0.1, 0.1), -0.19 at full training, shows -1.84; those two cross between 9 and 27 steps.
    Spearman's rank correlation between the values at 3 and at 81 steps of uniform points is about 0.2
    (0.7 at 9 steps, 0.9 at 27; benchmarks/search_efficiency.py prints them, a unit test bounds the first
    below 0.5), against 1.0 for augmented Hartmann."""
    h = augmented_hartmann(3)

    def f(x: Sequence[float], fidelity: float) -> float:
        distance = sum((x[j] - HARTMANN3_ARGMIN[j]) ** 2 for j in range(3))
        k = CROSSING_SLOW + (CROSSING_FAST - CROSSING_SLOW) * (1.0 - math.exp(-distance / CROSSING_WIDTH))
        decoy = CROSSING_DECOY * distance / 3.0 * (1.0 - fidelity) ** 2
        return h(x, 1.0) * (1.0 - math.exp(-k * fidelity)) / (1.0 - math.exp(-k)) - decoy

    return f


@dataclass(frozen=True)
class Problem:
    name: str
    dims: int
    f: Callable[[Sequence[float], float], float]
    optimum: float
    """Minimum of f(x, 1); regret is (f(x, 1) - optimum) / (0 - optimum) (every problem's upper bound is 0)."""
    full: str
    """The name of the problem whose full-fidelity values are the same (random-full's hit probability)."""


def problem(name: str) -> Problem:
    """The problem by name: hartmann3, hartmann6 (augmented Hartmann) or crossing3 (crossing learning curves)."""
    if name in ("hartmann3", "hartmann6"):
        dims = int(name[-1])
        return Problem(name, dims, augmented_hartmann(dims), HARTMANN_OPTIMUM[dims], name)
    if name == "crossing3":
        return Problem(name, 3, crossing_hartmann3(), HARTMANN_OPTIMUM[3], "hartmann3")
    raise ValueError(f"problem={name!r}: valid are {', '.join(PROBLEMS)}")


PROBLEMS = ("hartmann3", "hartmann6", "crossing3")


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation: Pearson's of the ranks (`activities.regression_metrics`, stdlib only)."""
    from activities.regression_metrics import pearson, ranks

    return pearson(ranks(list(a)), ranks(list(b)))


def fidelity_rank_correlation(name: str, low: float, points: int = 2000, seed: int = 0) -> float:
    """Spearman's rank correlation between f(x, low) and f(x, 1) over `points` uniform points."""
    import random

    p, draw = problem(name), random.Random(seed)
    xs = [[draw.random() for _ in range(p.dims)] for _ in range(points)]
    return spearman([p.f(x, low) for x in xs], [p.f(x, 1.0) for x in xs])
