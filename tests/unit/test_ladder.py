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


def test_top_k_ranks_nan_last():
    from workflows.ladder import top_k

    assert top_k({0: float("nan"), 1: 0.5, 2: 0.2}, 3, "minimize") == [2, 1, 0]
    assert top_k({0: float("nan"), 1: 0.5, 2: 0.2}, 2, "maximize") == [1, 2]


def test_budgets_in_epochs_and_fractions_become_whole_steps():
    from workflows.ladder import budget_to_steps

    assert budget_to_steps(60, "steps", 20) == 60
    assert budget_to_steps(0.25, "fraction", 20) == 5
    assert budget_to_steps(0.26, "fraction", 20) == 6  # ceil: never less data than asked
    assert budget_to_steps(3, "epochs", 20) == 60
    assert budget_to_steps(0.001, "fraction", 20) == 1
    with pytest.raises(LadderError, match="ladder.unit is 'hours'"):
        budget_to_steps(1, "hours", 20)


def test_trials_are_dealt_to_brackets_round_after_round():
    from workflows.ladder import bracket_templates, deal_plan, deal_trials

    assert deal_trials([9, 5, 3], 20) == [9, 5, 3, 3]
    assert deal_trials([9, 5, 3], 7) == [7]
    assert deal_trials([9], 9) == [9]
    templates = bracket_templates("hyperband", [10, 90], 3, 0)
    assert templates == [([10.0, 30.0, 90.0], 9), ([30.0, 90.0], 5), ([90.0], 3)]
    assert deal_plan(templates, 18) == [([10.0, 30.0, 90.0], 9), ([30.0, 90.0], 5), ([90.0], 3),
                                        ([10.0, 30.0, 90.0], 1)]
    assert bracket_templates("sha", [10, 30], 3, 7) == [([10, 30], 7)]


def test_leaderboard_ranks_by_rung_reached_then_metric():
    from workflows.payloads.records import TrialState
    from workflows.ranking import leaderboard_order

    trials = [
        TrialState(number=0, params={}, state="stopped", metrics=[0.3], rung_steps=[10]),
        TrialState(number=1, params={}, state="completed", metrics=[0.9, 0.8], rung_steps=[10, 30]),
        TrialState(number=2, params={}, state="completed", metrics=[0.5, 0.7], rung_steps=[10, 30]),
        TrialState(number=3, params={}, state="failed", metrics=[0.1], rung_steps=[10]),
        TrialState(number=4, params={}, state="running"),
    ]
    assert leaderboard_order(trials, "minimize") == [2, 1, 0]
    assert leaderboard_order(trials, "maximize") == [1, 2, 0]
