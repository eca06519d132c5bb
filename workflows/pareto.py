"""Ranking trials on several objectives at once, as multi-objective successive halving needs it (pure; safe
in workflow code).

MO-ASHA (Schmucker, Donini, Zafar, Salinas and Archambeau, "Multi-objective Asynchronous Successive Halving",
2021) keeps ASHA's promotion rule, "the top floor(n / eta) of the n results at a rung go on", and replaces
"top" by a total order over objective vectors:

1. Feasibility first (as Optuna's constrained NSGA-II): a trial that meets every outcome constraint ranks
   before any that does not; infeasible trials rank among themselves by their total violation.
2. Non-dominated sorting (Deb et al., "A Fast and Elitist Multiobjective Genetic Algorithm: NSGA-II", 2002):
   front 1 is the trials no other trial dominates (a dominates b when a is at least as good in every
   objective and better in one), front 2 those no other is dominating once front 1 is removed, and so on;
   an earlier front ranks first.
3. Within a front, the greedy epsilon-net order the paper found best (its "EpsNet" strategy): objectives
   are scaled to [0, 1] over the trials ranked, the first pick is the best in the first objective, and each
   next pick is the trial farthest (Euclidean) from every trial picked so far, so a front cut short keeps
   points spread along it rather than bunched at one end.

Ties (equal vectors, equal distances) go to the lower trial number, so the order is deterministic. A
vector holding NaN (a diverged training) ranks after every finite one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from workflows.ranking import DIRECTIONS


def oriented(vector: Sequence[float], directions: Sequence[str]) -> tuple[float, ...]:
    """The vector with every objective turned to minimisation (a maximised one negated)."""
    return tuple(-v if d == "maximize" else v for v, d in zip(vector, directions, strict=True))


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether `a` dominates `b`, both minimised: no worse in any objective and better in one."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def fronts(points: dict[int, tuple[float, ...]]) -> list[list[int]]:
    """Non-dominated fronts of minimised `points` (trial number -> vector), best first, each sorted. Deb's
    fast non-dominated sort: every pair is compared once (O(n^2) comparisons, whatever the number of fronts)."""
    numbers = sorted(points)
    beaten_by = dict.fromkeys(numbers, 0)  # how many points dominate each
    beats: dict[int, list[int]] = {n: [] for n in numbers}
    for i, a in enumerate(numbers):
        for b in numbers[i + 1:]:
            if dominates(points[a], points[b]):
                beats[a].append(b)
                beaten_by[b] += 1
            elif dominates(points[b], points[a]):
                beats[b].append(a)
                beaten_by[a] += 1
    layer = [n for n in numbers if beaten_by[n] == 0]
    layers: list[list[int]] = []
    while layer:
        layers.append(layer)
        following = []
        for n in layer:
            for m in beats[n]:
                beaten_by[m] -= 1
                if beaten_by[m] == 0:
                    following.append(m)
        layer = sorted(following)
    return layers


def scaled(points: Mapping[int, Sequence[float]]) -> dict[int, tuple[float, ...]]:
    """Each objective scaled to [0, 1] over `points` (a constant one becomes 0); minimised points stay
    minimised (0 the best end)."""
    dims = len(next(iter(points.values())))
    low = [min(p[i] for p in points.values()) for i in range(dims)]
    span = [max(p[i] for p in points.values()) - low[i] for i in range(dims)]
    return {n: tuple((p[i] - low[i]) / span[i] if span[i] > 0 else 0.0 for i in range(dims))
            for n, p in points.items()}


def eps_net(front: list[int], scaled: dict[int, tuple[float, ...]]) -> list[int]:
    """The greedy epsilon-net order of one front (rule 3 above)."""
    if not front:
        return []
    picked = [min(front, key=lambda n: (scaled[n][0], scaled[n], n))]
    # each unpicked trial's distance to the nearest pick, updated per pick: O(n^2), not O(n^3)
    near = {n: math.dist(scaled[n], scaled[picked[0]]) for n in front if n != picked[0]}
    while near:
        far = max(near, key=lambda n: (near[n], -n))
        picked.append(far)
        del near[far]
        for n in near:
            near[n] = min(near[n], math.dist(scaled[n], scaled[far]))
    return picked


def pareto_order(vectors: Mapping[int, Sequence[float]], directions: Sequence[str],
                 violations: Mapping[int, float] | None = None) -> list[int]:
    """Trial numbers best first by rules 1-3. `vectors`: each trial's objectives in the order of
    `directions` ('minimize' or 'maximize' each); `violations`: each trial's total constraint violation
    (0 or absent: feasible)."""
    for direction in directions:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction is '{direction}', but must be one of: {', '.join(DIRECTIONS)}")
    violations = violations or {}
    finite = {n: oriented(v, directions) for n, v in vectors.items() if not any(map(math.isnan, v))}
    feasible = {n: p for n, p in finite.items() if violations.get(n, 0.0) <= 0}
    order: list[int] = []
    if feasible:
        unit = scaled(feasible)
        for layer in fronts(feasible):
            order += eps_net(layer, unit)
    order += sorted((n for n in finite if n not in feasible), key=lambda n: (violations[n], n))
    return order + sorted(n for n in vectors if n not in finite)


def pareto_ranks(vectors: Mapping[int, Sequence[float]], directions: Sequence[str],
                 violations: Mapping[int, float] | None = None) -> dict[int, float]:
    """Each trial's position in `pareto_order` (0 the best) as a result to minimise, NaN for a vector
    holding NaN: what the single-objective rules (`workflows.ladder.top_k`) rank instead of one metric."""
    order = pareto_order(vectors, directions, violations)
    return {n: (math.nan if any(map(math.isnan, vectors[n])) else float(i)) for i, n in enumerate(order)}


def pareto_front(vectors: Mapping[int, Sequence[float]], directions: Sequence[str],
                 violations: Mapping[int, float] | None = None) -> list[int]:
    """The feasible, finite trials no other such trial dominates (the front to report), by trial number."""
    violations = violations or {}
    points = {n: oriented(v, directions) for n, v in vectors.items()
              if not any(map(math.isnan, v)) and violations.get(n, 0.0) <= 0}
    return fronts(points)[0] if points else []
