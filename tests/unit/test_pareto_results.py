"""A multi-objective sweep's results (runner/pareto_view.py): the front at the highest shared rung step,
infeasible trials kept off it, the weighted pick, the hypervolume over the steps trained, `--pick`, the
status line, sweep.json and the report's front table."""

from __future__ import annotations

import json

import pytest

from runner.pareto_view import front_line, front_view, goals, hypervolume, picked, write_pick
from runner.report import write_report
from runner.sweep_results import write_sweep_files
from workflows.payloads.errors import ConfigError
from workflows.payloads.records import Decision, TrialState
from workflows.payloads.sweep import LadderSweepResult

# (accuracy, latency_ms) at step 30 for trials 0-5; trial 5 breaks latency <= 5; trial 4 is dominated by 1
AT_30 = {0: (0.90, 4.0), 1: (0.80, 2.0), 2: (0.70, 1.0), 3: (0.95, 4.5), 4: (0.75, 3.0), 5: (0.99, 9.0)}
CONFIG = {"trainer": {"monitor": "val_loss", "max_steps": 30}, "direction": "minimize", "experiment_name": "mo",
          "optim": {"lr": 1e-3}, "ladder": {"kind": "asha"}, "search_space": {"params": []},
          "objectives": [{"metric": "val_accuracy", "direction": "maximize", "weight": 1.0},
                         {"metric": "latency_ms", "direction": "minimize", "weight": 1.0}],
          "constraints": [{"metric": "latency_ms", "max": 5.0}]}


def sweep() -> LadderSweepResult:
    trials, decisions = [], []
    for n in range(8):  # trials 6 and 7 stopped at step 10
        top = n < 6
        steps = [10, 30] if top else [10]
        metrics = [{"val_accuracy": 0.5, "latency_ms": 3.0, "val_loss": 1.0}]
        if top:
            acc, latency = AT_30[n]
            metrics.append({"val_accuracy": acc, "latency_ms": latency, "val_loss": 1 - acc})
        trials.append(TrialState(number=n, params={"optim.lr": 1e-4 * (n + 1)}, state="completed" if top else "stopped",
                                 rung=len(steps) - 1, metrics=[m["val_loss"] for m in metrics], rung_steps=steps,
                                 rung_metrics=metrics))
        decisions.append(Decision("rung_result", n, 0, "r0"))
    decisions += [Decision("rung_result", n, 1, "r1") for n in (2, 0, 5, 1, 4, 3)]
    return LadderSweepResult(trials=trials, decisions=decisions, best_trial=3, total_steps=0)


def test_the_front_is_drawn_at_the_highest_shared_step_without_infeasible_trials():
    view = front_view(sweep(), CONFIG)
    assert view is not None and view.step == 30 and set(view.points) == set(range(6))
    assert view.front == [3, 0, 1, 2]  # best accuracy first; 4 dominated by 1; 5 infeasible
    assert view.order[-1] == 5 and view.violations[5] > 0
    assert front_view(sweep(), {**CONFIG, "objectives": []}) is None


def test_weights_pick_the_best_scaled_sum_among_feasible_trials():
    view = front_view(sweep(), CONFIG)
    # scaled over feasible trials: accuracy (0.70..0.95), latency (1.0..4.5): trial 1 scores 0.4 + 0.71,
    # trial 0 0.8 + 0.14, trials 2 and 3 1.0 each
    assert view.weighted == 1
    accuracy_only = {**CONFIG, "objectives": [{**CONFIG["objectives"][0], "weight": 1.0},
                                              {**CONFIG["objectives"][1], "weight": 0.0}]}
    assert front_view(sweep(), accuracy_only).weighted == 3  # 5 has the best accuracy but is infeasible


def test_hypervolume_rises_with_the_steps_trained_in_result_order():
    view = front_view(sweep(), CONFIG)
    steps = [s for s, _ in view.hypervolume]
    values = [v for _, v in view.hypervolume]
    # 8 trials x 10 steps, then 20 steps per top-rung result in the log's order 2, 0, 5 (infeasible), 1, 4, 3
    assert steps == [100, 120, 160, 180, 200]
    assert values == sorted(values) and values[-1] > values[0] > 0
    assert hypervolume([[0.0, 0.0]]) == pytest.approx(1.21)  # one ideal point: the whole reference box
    assert hypervolume([[0.0, 1.0], [1.0, 0.0]]) == pytest.approx(1.1 * 0.1 + 1.1 * 0.1 - 0.01)


def test_pick_names_a_front_point_or_the_weighted_one_and_writes_its_config(tmp_path):
    view = front_view(sweep(), CONFIG)
    assert picked(view, "1") == 3 and picked(view, "4") == 2 and picked(view, "weighted") == 1
    with pytest.raises(ConfigError, match="front point 1..4"):
        picked(view, "5")
    path = write_pick(tmp_path, "mo-asha-1", sweep(), CONFIG, "2")
    text = path.read_text()
    assert path.name == "front_2_config.yaml" and "Pareto front point 2: trial 0 of sweep mo-asha-1" in text
    assert "lr: 0.0001" in text
    with pytest.raises(ConfigError, match="this sweep has one objective"):
        write_pick(tmp_path, "mo-asha-1", sweep(), {**CONFIG, "objectives": []}, "1")


def test_status_names_the_front_so_far():
    spec_objectives, constraints = goals(CONFIG)
    line = front_line(sweep().trials, spec_objectives, constraints)
    assert line == "Pareto front at step 30: trials 3, 0, 1, 2 of 6 (1 infeasible)"
    assert front_line(sweep().trials, spec_objectives[:1], constraints) == ""


def test_sweep_json_and_report_hold_the_front(tmp_path):
    write_sweep_files(tmp_path, "mo-asha-1", sweep(), CONFIG)
    pareto = json.loads((tmp_path / "sweep.json").read_text())["pareto"]
    assert [row["trial"] for row in pareto["front"]] == [3, 0, 1, 2] and pareto["infeasible"] == [5]
    assert pareto["weighted_pick"] == 1 and pareto["front"][0] == {"point": 1, "trial": 3, "val_accuracy": 0.95,
                                                                   "latency_ms": 4.5}
    page = write_report(tmp_path / "report.html", "mo-asha-1", "LadderSweepWorkflow", "COMPLETED", {"config": CONFIG},
                        sweep()).read_text()
    assert "Pareto front at step 30 (4 of 6 trials)" in page and 'id="pareto-front"' in page
    assert "fig-pareto" in page and "fig-hypervolume" in page


def test_the_leaderboard_ranks_as_the_sweep_did_feasible_trials_first():
    from runner.pareto_view import leader_order

    order = leader_order(sweep().trials, CONFIG)
    # feasible first (step 30 in Pareto order, then the step-10 trials); 5 broke latency <= 5: last
    assert order == [3, 2, 1, 0, 4, 6, 7, 5]
    plain = {**CONFIG, "objectives": [], "constraints": []}  # one objective: val_loss, where 5 is best
    assert leader_order(sweep().trials, plain)[:2] == [5, 3]
