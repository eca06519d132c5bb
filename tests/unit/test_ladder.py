"""Rung schedules, promotion order and Hyperband brackets against the published formulas."""

from __future__ import annotations

import pytest

from workflows.ladder import (
    LadderError,
    asha_promotable,
    geometric_rungs,
    hyperband_brackets,
    promotion_count,
    s_max,
    sha_promotions,
    validate_rungs,
)


def test_s_max_is_exact_at_powers_of_eta():
    assert s_max(1, 81, 3) == 4 and s_max(1, 80, 3) == 3 and s_max(50, 450, 3) == 2 and s_max(1, 1, 3) == 0


def test_geometric_rungs():
    assert geometric_rungs(50, 450, 3) == [50, 150, 450]
    assert geometric_rungs(1, 81, 3) == [1, 3, 9, 27, 81]
    assert geometric_rungs(10, 100, 2) == [12.5, 25, 50, 100]  # top rung is max_budget, each eta x the last


def test_hyperband_brackets_match_the_paper_table():
    """Li et al. 2018, Table 1 (R = 81, eta = 3)."""
    brackets = hyperband_brackets(1, 81, 3)
    assert brackets == [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]


def test_hyperband_budgets_scale_with_min_budget():
    assert hyperband_brackets(10, 90, 3)[0] == [(9, 10), (3, 30), (1, 90)]


def test_sha_keeps_the_best_third_in_metric_order_with_ties_to_lower_trial():
    results = {0: 0.5, 1: 0.9, 2: 0.7, 3: 0.9, 4: 0.1, 5: 0.3, 6: 0.2, 7: 0.8, 8: 0.6}
    assert promotion_count(9, 3) == 3
    assert sha_promotions(results, 3, "maximize") == [1, 3, 7]
    assert sha_promotions(results, 3, "minimize") == [4, 6, 5]


def test_asha_promotes_as_soon_as_a_trial_is_in_the_top_third_so_far():
    assert asha_promotable({0: 0.5, 1: 0.9}, set(), 3, "maximize") == []  # 2 // 3 == 0
    assert asha_promotable({0: 0.5, 1: 0.9, 2: 0.7}, set(), 3, "maximize") == [1]
    assert asha_promotable({0: 0.5, 1: 0.9, 2: 0.7, 3: 0.1, 4: 0.2, 5: 0.3}, {1}, 3, "maximize") == [2]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: geometric_rungs(50, 450, 1), "ladder.eta is 1, but must be >= 2"),
        (lambda: geometric_rungs(0, 450, 3), "ladder.min_budget is 0"),
        (lambda: geometric_rungs(500, 450, 3), "ladder.max_budget is 450"),
        (lambda: validate_rungs([50, 150, 150], 3), "strictly increasing"),
        (lambda: validate_rungs([], 3), "ladder.rungs is []"),
        (lambda: sha_promotions({0: 1.0}, 3, "up"), "direction is 'up'"),
    ],
)
def test_bad_ladders_are_refused_with_the_key(call, message):
    with pytest.raises(LadderError, match=message.replace("[", r"\[").replace("]", r"\]")):
        call()
