"""The multi-objective order MO-ASHA promotes by (workflows/pareto.py), checked against Optuna's own
non-dominated sorting and against hand-worked cases."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from optuna.study._multi_objective import _fast_non_domination_rank

from workflows.ladder import top_k
from workflows.pareto import dominates, fronts, pareto_front, pareto_order, pareto_ranks

MAX_MIN = ("maximize", "minimize")  # e.g. val_accuracy up, latency_ms down


def test_domination_needs_one_strictly_better_objective():
    assert dominates((1, 1), (1, 2)) and dominates((0, 0), (1, 1))
    assert not dominates((1, 1), (1, 1)) and not dominates((0, 2), (1, 1))


def test_fronts_match_optuna_non_domination_rank():
    rng = random.Random(3)
    for _ in range(30):
        n, dims = rng.randint(1, 25), rng.randint(2, 3)
        points = {i: tuple(float(rng.randint(0, 6)) for _ in range(dims)) for i in range(n)}
        ranks = _fast_non_domination_rank(np.array([points[i] for i in range(n)]))
        ours = {i: depth for depth, layer in enumerate(fronts(points)) for i in layer}
        assert [ours[i] for i in range(n)] == list(ranks)


def test_a_dominated_trial_never_ranks_before_its_dominator():
    rng = random.Random(7)
    for _ in range(50):
        vectors = {i: (rng.random(), rng.random() * 10) for i in range(rng.randint(2, 20))}
        order = pareto_order(vectors, MAX_MIN)
        position = {n: i for i, n in enumerate(order)}
        for a, va in vectors.items():
            for b, vb in vectors.items():
                if dominates((-va[0], va[1]), (-vb[0], vb[1])):
                    assert position[a] < position[b]


def test_direction_decides_which_end_is_best():
    vectors = {0: (0.9, 5.0), 1: (0.8, 1.0), 2: (0.7, 9.0)}  # 2 is dominated by both others
    assert pareto_order(vectors, MAX_MIN)[-1] == 2
    assert pareto_order(vectors, ("minimize", "maximize"))[0] == 2  # now 2 dominates both


def test_eps_net_spreads_a_cut_front_over_its_ends():
    # One front of five along a line: best accuracy first, then the far end, then the middle.
    vectors = {n: (0.5 + 0.1 * n, 1.0 + n) for n in range(5)}
    order = pareto_order(vectors, MAX_MIN)
    assert order[:3] == [4, 0, 2]
    assert set(top_k(pareto_ranks(vectors, MAX_MIN), 2, "minimize")) == {4, 0}


def test_infeasible_trials_rank_after_feasible_ones_by_violation():
    vectors = {0: (0.95, 9.0), 1: (0.60, 2.0), 2: (0.99, 20.0), 3: (0.97, 12.0)}
    violations = {0: 4.0, 2: 15.0, 3: 7.0}  # latency_ms <= 5: only trial 1 meets it
    assert pareto_order(vectors, MAX_MIN, violations) == [1, 0, 3, 2]
    assert pareto_front(vectors, MAX_MIN, violations) == [1]


def test_nan_ranks_last_and_stays_nan_for_top_k():
    vectors = {0: (math.nan, 1.0), 1: (0.5, 3.0), 2: (0.6, 2.0)}
    ranks = pareto_ranks(vectors, MAX_MIN)
    assert math.isnan(ranks[0]) and ranks[2] == 0.0
    assert top_k(ranks, 3, "minimize")[-1] == 0


def test_equal_vectors_order_by_trial_number():
    vectors = {5: (0.7, 2.0), 3: (0.7, 2.0), 4: (0.7, 2.0)}
    assert pareto_order(vectors, MAX_MIN) == [3, 4, 5]


def test_a_bad_direction_is_refused():
    with pytest.raises(ValueError, match="must be one of"):
        pareto_order({0: (1.0, 2.0)}, ("maximize", "up"))
