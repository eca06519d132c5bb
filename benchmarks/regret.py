"""What every arm of the search-efficiency benchmarks records, in the stdlib only (the peer arms import it
in their own virtual environment, benchmarks/peers.py): the rungs and the currency (`RUNGS`, `TOP`: budget
is counted in full trainings of 81 steps), the target regret, `Trace` and `Recommender`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

RUNGS = [3, 9, 27, 81]
TOP = RUNGS[-1]
TARGET = 0.01


@dataclass
class Trace:
    """What one arm did on one seed: (budget in full trainings after the result, regret of the
    recommendation then) after every result, in order; for train-tune sweeps also the seconds since the
    sweep started at each result (`seconds`) and the sweep's wall time to its stop (`wall_s`)."""

    arm: str
    function: str
    seed: int
    points: list[tuple[float, float]] = field(default_factory=list)
    trials: int = 0
    seconds: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    first_top: float = math.inf
    """Budget spent when a trial first reached the top rung (train-tune sweeps)."""


class Recommender:
    """Keeps the recommendation (best value among the trials at the highest fidelity reached) and its
    true regret as results arrive."""

    def __init__(self, f: Callable[[Sequence[float], float], float], optimum: float) -> None:
        self.f, self.optimum = f, optimum
        self.reached: dict[object, tuple[int, float, list[float]]] = {}
        self.spent = 0
        self.best: tuple[int, float] | None = None  # (step, value) of the recommendation
        self.regret = 1.0

    def result(self, trial: object, x: Sequence[float], step: int, value: float, cost: int, trace: Trace) -> None:
        self.spent += cost
        self.reached[trial] = (step, value, x)
        if self.best is None or (step, -value) > (self.best[0], -self.best[1]):
            self.best = (step, value)
            self.regret = (self.f(x, 1.0) - self.optimum) / (0.0 - self.optimum)
        trace.points.append((self.spent / TOP, self.regret))


