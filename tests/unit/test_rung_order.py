"""The warning `train-tune results` prints for a rung that ranks the trials unlike the top rung
(`runner.rung_order`): Spearman's rank correlation over the trials that reached the top."""

from __future__ import annotations

import math

import pytest

from activities.regression_metrics import ranks
from runner.rung_order import MIN_PAIRS, misranking_rungs, order_line, spearman
from runner.sweep_results import noise_lines
from workflows.payloads.records import Decision, TrialState
from workflows.payloads.sweep import LadderSweepResult, RungRow

# benchmarks/README.md, "Rung signal", the quiet rerun of 2026-12-03: the shipped bert_sweep, 8 configurations
# trained unpruned to 270 steps; scipy.stats.spearmanr gave val_loss -0.19 and val_accuracy -0.72 (with ties)
LOSS_30 = [1.4258, 1.5419, 1.6045, 1.5765, 1.3992, 1.6075, 1.3923, 1.4480]
LOSS_270 = [0.2477, 0.1871, 0.1488, 0.2352, 0.1743, 0.2519, 0.3183, 0.2317]
ACC_30 = [0.4459, 0.3649, 0.1757, 0.2297, 0.4054, 0.2297, 0.4910, 0.4279]
ACC_270 = [0.9414, 0.9595, 0.9640, 0.9550, 0.9685, 0.9685, 0.9279, 0.9505]


def test_spearman_gives_the_published_figures_and_shares_ranks_between_ties():
    assert ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]
    assert spearman(LOSS_30, LOSS_270) == pytest.approx(-0.19, abs=0.005)
    assert spearman(ACC_30, ACC_270) == pytest.approx(-0.72, abs=0.005)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == 1.0 and spearman([1, 2, 3], [3, 2, 1]) == -1.0
    assert spearman([1, 2], [1, 2]) is None and spearman([1, 1, 1], [1, 2, 3]) is None


def test_spearman_agrees_with_scipy_on_random_ties():
    stats = pytest.importorskip("scipy.stats")
    import random

    rng = random.Random(3)
    for _ in range(50):
        n = rng.randint(3, 30)
        a, b = [rng.randint(0, 6) / 7 for _ in range(n)], [rng.random() for _ in range(n)]
        expected = stats.spearmanr(a, b).statistic
        got = spearman(a, b)
        assert (got is None and math.isnan(expected)) or got == pytest.approx(expected, abs=1e-12)


def sweep(first: list[float], top: list[float], bracket: int = 0, stopped: int = 3) -> list[TrialState]:
    """Trials that reached rung 2 of [30, 90, 270] (first and top values given; at 90 the top's + 0.3: ranked as
    the top), and `stopped` more that stopped at rung 0."""
    done = [TrialState(number=i, params={}, state="completed", metrics=[f, t + 0.3, t], rung_steps=[30, 90, 270],
                       bracket=bracket, rung=2) for i, (f, t) in enumerate(zip(first, top, strict=True))]
    return done + [TrialState(number=100 + i, params={}, state="stopped", metrics=[9.0], rung_steps=[30],
                              bracket=bracket, rung=0) for i in range(stopped)]


def rows(bracket: int = 0) -> list[RungRow]:
    return [RungRow(bracket=bracket, rung=r, budget_steps=s, reported=9, promoted=3, decided=True)
            for r, s in enumerate([30, 90, 270])]


def test_a_first_rung_that_ranks_against_the_top_is_named_with_its_correlation():
    found = misranking_rungs(sweep(LOSS_30, LOSS_270), rows())
    assert [(f.bracket, f.rung, f.steps, f.top_steps, f.pairs) for f in found] == [(0, 0, 30, 270, 8)]
    assert found[0].correlation == pytest.approx(-0.19, abs=0.005)  # the stopped trials are not compared
    assert order_line(found[0]) == (
        "warning: rung 0 (30 steps) ranks the 8 trials that reached the top rung (270 steps) unlike the top does "
        "(Spearman -0.19); its promotions may stop configurations that start slowly — start the ladder later "
        "(ladder.rungs, or let ladder.probe_trials find where) or check the lr range")
    # rung 1 ranks as the top does: not named


def test_a_rung_that_ranks_as_the_top_does_or_too_few_trials_say_nothing():
    agreeing = [v + 0.01 * i for i, v in enumerate(sorted(LOSS_270))]
    assert misranking_rungs(sweep(agreeing, sorted(LOSS_270)), rows()) == []
    few = MIN_PAIRS - 1
    assert misranking_rungs(sweep(LOSS_30[:few], LOSS_270[:few]), rows()) == []
    assert len(misranking_rungs(sweep(LOSS_30[:MIN_PAIRS], LOSS_270[:MIN_PAIRS]), rows())) == 1


def test_brackets_are_judged_apart_and_named_when_there_are_several():
    trials = sweep(LOSS_30, LOSS_270, bracket=0) + [
        TrialState(number=200 + t.number, params={}, state=t.state, metrics=t.metrics, rung_steps=t.rung_steps,
                   bracket=1, rung=t.rung) for t in sweep(sorted(LOSS_30), sorted(LOSS_270))]
    found = misranking_rungs(trials, rows(0) + rows(1))
    assert [(f.bracket, f.rung) for f in found] == [(0, 0)]
    assert order_line(found[0], brackets=2).startswith("warning: bracket 0 rung 0 (30 steps) ranks the 8 trials")


def test_the_results_report_prints_it_after_the_noise_warnings():
    result = LadderSweepResult(trials=sweep(LOSS_30, LOSS_270), decisions=[], best_trial=2, total_steps=3000,
                               rungs=rows())
    plain = {"trainer": {"monitor": "val_loss"}, "direction": "minimize"}
    lines = noise_lines(result, plain)
    assert len(lines) == 1 and lines[0].startswith("warning: rung 0 (30 steps) ranks the 8 trials"), lines


def test_a_rung_probe_s_bracket_is_not_warned_about():
    """Its trials all go on (nothing was ranked there), and the probe's own decision says how its rungs ranked."""
    probe = Decision(kind="probe", trial=-1, rung=1, detail="rung probe: ...")
    result = LadderSweepResult(trials=sweep(LOSS_30, LOSS_270), decisions=[probe], best_trial=2, total_steps=3000,
                               rungs=rows())
    assert noise_lines(result, {"trainer": {"monitor": "val_loss"}, "direction": "minimize"}) == []
