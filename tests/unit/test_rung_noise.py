"""The warning `train-tune results` prints for a rung whose promotions are close to random: the monitored
metric's spread across the rung's trials within its noise (`runner.rung_noise`)."""

from __future__ import annotations

import json
import math

import pytest

from runner.rung_noise import noise_level, noisy_rungs, rung_spread, warning_line
from runner.sweep_results import noise_lines, validation_size
from workflows.payloads.records import PbtStep, TrialState
from workflows.payloads.sweep import LadderSweepResult, RungRow


def trial(number: int, metrics: list[float], steps: list[int], bracket: int = 0) -> TrialState:
    return TrialState(number=number, params={"optim.lr": 1e-3}, metrics=metrics, rung_steps=steps[:len(metrics)],
                      bracket=bracket, rung=len(metrics) - 1)


def sha_rows(reported: list[int], steps: list[int], bracket: int = 0) -> list[RungRow]:
    return [RungRow(bracket=bracket, rung=r, budget_steps=s, reported=n, promoted=0, decided=True)
            for r, (n, s) in enumerate(zip(reported, steps, strict=True))]


def test_a_loss_is_within_noise_below_one_percent_of_its_median():
    assert noise_level("val_loss", [1.60, 1.61, 1.59], None) == pytest.approx(0.016)
    assert rung_spread("val_loss", [1.604, 1.600, 1.602], None).within_noise
    moved = rung_spread("val_loss", [1.60, 1.45, 1.20], None)
    assert not moved.within_noise and moved.spread == pytest.approx(0.40) and moved.trials == 3


def test_an_accuracy_is_within_noise_inside_its_binomial_standard_error_at_the_validation_size():
    values = [0.25, 0.26, 0.27]
    assert noise_level("val_accuracy", values, 200) == pytest.approx(math.sqrt(0.26 * 0.74 / 200))  # 0.031
    assert rung_spread("val_accuracy", values, 200).within_noise
    assert not rung_spread("val_accuracy", values, 5000).within_noise  # 0.0062: a big split tells them apart
    assert not rung_spread("val_accuracy", [0.26, 0.41, 0.62], 200).within_noise
    # validation size unknown: the relative rule (1% of 0.26), so the same spread is not within noise
    assert noise_level("val_accuracy", values, None) == pytest.approx(0.0026)


def test_ties_are_within_noise_and_fewer_than_two_values_say_nothing():
    assert rung_spread("val_accuracy", [0.2297] * 4, 222).within_noise
    assert not rung_spread("val_loss", [1.6], None).within_noise
    assert not rung_spread("val_loss", [1.6, math.nan, math.inf], None).within_noise  # diverged trials left out
    assert rung_spread("val_loss", [1.6, 1.601, math.nan], None).trials == 2


def test_only_promoting_rungs_are_checked_and_the_line_names_rung_steps_spread_and_noise():
    trials = [trial(n, [1.600 + n / 1000, 1.5 - n / 10, 1.0], [20, 60, 180]) for n in range(3)]
    trials += [trial(n, [1.600 + n / 1000], [20]) for n in range(3, 9)]
    rows = sha_rows([9, 3, 1], [20, 60, 180])
    found = noisy_rungs(trials, rows, "val_loss", None)
    assert [(f.rung, f.steps, f.figures.trials) for f in found] == [(0, 20, 9)]  # rung 1 moved; 2 is the top
    assert warning_line(found[0]) == (
        "warning: rung 0 (20 steps): val_loss spread 0.008 across 9 trials is within noise (±0.016); promotions "
        "there are close to random — raise the rung or the lr range")
    # the top rung of a bracket promotes no one: equal values there warn of nothing
    assert noisy_rungs([trial(n, [1.0, 1.0], [20, 60]) for n in range(2)], sha_rows([2, 2], [20, 60]), "val_loss",
                       None)[0].rung == 0


def test_brackets_are_checked_apart_and_named_when_there_are_several():
    trials = [trial(n, [1.6, 1.2 + n / 10], [20, 60], bracket=0) for n in range(3)]
    trials += [trial(n + 3, [1.2 + n / 10, 1.1], [60, 180], bracket=1) for n in range(3)]
    rows = sha_rows([3, 1], [20, 60]) + sha_rows([3, 1], [60, 180], bracket=1)
    found = noisy_rungs(trials, rows, "val_loss", None)
    assert [(f.bracket, f.rung) for f in found] == [(0, 0)]
    assert warning_line(found[0], brackets=2).startswith("warning: bracket 0 rung 0 (20 steps): val_loss spread 0 ")


PLAIN = {"trainer": {"monitor": "val_loss"}, "direction": "minimize", "run_root": "/nowhere"}


def test_the_results_report_warns_for_a_sweep_ranked_by_one_metric_only():
    trials = [trial(n, [1.600 + n / 1000], [20]) for n in range(3)] + [trial(3, [1.601, 1.2], [20, 60])]
    sweep = LadderSweepResult(trials=trials, decisions=[], best_trial=3, total_steps=120,
                              rungs=sha_rows([4, 1], [20, 60]))
    assert [line[:41] for line in noise_lines(sweep, PLAIN)] == ["warning: rung 0 (20 steps): val_loss spre"]
    two = {**PLAIN, "objectives": [{"metric": "val_loss", "direction": "minimize"},
                                   {"metric": "val_latency_ms", "direction": "minimize"}]}
    assert noise_lines(sweep, two) == []  # ranked in Pareto order, not by the monitored metric
    trials[0].lineage = [PbtStep(step=0, source=0)]
    assert noise_lines(sweep, PLAIN) == []  # PBT exploits, it does not promote


def test_an_accuracy_reads_its_validation_size_from_the_sweeps_snapshot(tmp_path):
    """The snapshot's recorded split sizes set the accuracy's noise; without the folder, the relative rule."""
    trials = [trial(n, [0.23 + n / 100], [30]) for n in range(3)] + [trial(3, [0.24, 0.8], [30, 90])]
    sweep = LadderSweepResult(trials=trials, decisions=[], best_trial=3, total_steps=240,
                              rungs=sha_rows([4, 1], [30, 90]), snapshot_id="abc123")
    plain = {"trainer": {"monitor": "val_accuracy"}, "direction": "maximize", "run_root": str(tmp_path)}
    assert noise_lines(sweep, plain) == []  # 1% of 0.24: spread 0.02 is not within it
    meta = tmp_path / "snapshots" / "abc123" / "snapshot.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"split_sizes": {"train": 1780, "validation": 222, "test": 223}}))
    assert validation_size(sweep, plain) == 222
    lines = noise_lines(sweep, plain)
    assert lines == ["warning: rung 0 (30 steps): val_accuracy spread 0.02 across 4 trials is within noise (±0.029); "
                     "promotions there are close to random — raise the rung or the lr range"]
