"""The sweep report's sections, built from a constructed sweep (every record the report reads) and from
the real result of a recorded sweep (records from before proposal reasons and wall times), and a
multirun's grouping over seeds."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import pytest

from runner.pareto_view import front_step
from runner.report import write_report
from runner.report_data import comparison_step, importances, promotions, seed_groups, values_at
from runner.report_sweep import pareto_parts
from tests.unit.report_fixture import PLAIN, constructed_sweep, recorded_sweep
from workflows.pareto import pareto_front
from workflows.payloads.records import TrialState
from workflows.payloads.runs import CoordinatorStatus, JobState

SECTIONS = ["summary", "outcome", "best-test", "trial-states", "proposals", "rung-table", "leaderboard",
            "fig-optimization_history", "fig-importance", "fig-parallel_coordinates", "fig-slices",
            "fig-learning_curves", "fig-training_curves", "fig-rungs", "fig-timeline", "rung-metrics", "decisions"]


def page_of(result, tmp_path, config=PLAIN) -> str:
    return write_report(tmp_path / "report.html", "fixture-sha-1", "LadderSweepWorkflow", "COMPLETED",
                        {"config": config}, result).read_text()


def between(page: str, start: str, end: str) -> str:
    part = page[page.index(start):]
    return part[:part.index(end)]


def figure_data(page: str, name: str) -> list[dict]:
    """The traces plotly draws for figure `name` (the JSON passed to Plotly.newPlot)."""
    call = page[page.index(f'"fig-{name}",'):]
    data, _ = json.JSONDecoder().raw_decode(call[call.index("["):])
    return data


def test_the_sweep_report_has_every_section_in_order_and_plotly_once(tmp_path):
    page = page_of(constructed_sweep(tmp_path), tmp_path)
    positions = [page.index(f"id='{name}'") if f"id='{name}'" in page else page.index(f'id="{name}"')
                 for name in SECTIONS]
    assert positions == sorted(positions), dict(zip(SECTIONS, positions, strict=True))
    assert page.count("Plotly.newPlot") == 8  # every figure but the Pareto front (one objective)
    assert "plot-pareto" not in page
    assert not re.search(r"<script[^>]+src=", page) and page.count("plotly.js v") == 1  # inlined once
    states = between(page, 'id="trial-states"', "</table>")
    assert "<td>stopped (demoted by the ladder)</td><td>8</td>" in states and "<td>completed</td><td>1</td>" in states
    proposals = between(page, 'id="proposals"', "</table>")
    assert "<td>startup_random</td><td>5</td>" in proposals and "<td>tpe</td><td>4</td>" in proposals
    assert "<th>proposed by</th>" in between(page, 'id="leaderboard"', "</table>")


def test_the_decision_log_is_collapsed_filterable_and_labels_proposals(tmp_path):
    sweep = constructed_sweep(tmp_path)
    page = page_of(sweep, tmp_path)
    log = between(page, "<details id='decision-log'>", "</details>")
    assert f"Decision log ({len(sweep.decisions)} decisions)" in log
    assert "<input id='decision-filter' type='search'" in log and "<select id='decision-kind'" in log
    assert "<option>promote</option>" in log and 'id="decisions"' in log
    assert "<td>propose</td><td>0</td><td>-1</td><td>startup_random</td>" in log
    assert "<td>propose</td><td>7</td><td>-1</td><td>tpe</td>" in log
    assert "<details id='decision-log' open>" not in page  # collapsed until opened
    assert "<details id='rung-metrics-section'>" in page


def test_importance_ranks_the_parameter_that_drives_the_metric_first(tmp_path):
    trials = constructed_sweep(tmp_path).trials
    step = comparison_step(trials)
    assert step == 10 and len(values_at(trials, step)) == 9  # every trial reported at the first rung
    ranked, note = importances(trials, step, "minimize")
    assert list(ranked) == ["optim.lr", "optim.warmup_ratio"]  # the metric is a steep function of the lr
    assert ranked["optim.lr"] > 0.5 and math.isclose(sum(ranked.values()), 1.0)
    assert "over 9 trials" in note and "constant, not ranked: optim.scheduler" in note
    assert importances(trials, step, "minimize") == (ranked, note)  # seeded: the same every time


def test_importance_says_in_one_line_why_it_has_none(tmp_path):
    trials = constructed_sweep(tmp_path).trials
    assert importances(trials[:1], 10, "minimize") == (
        {}, "parameter importance needs at least 2 trials with a result at step 10; 1 have one")
    same = [replace(t, params={"optim.lr": 1e-3}) for t in trials]
    assert "every parameter had one value" in importances(same, 10, "minimize")[1]
    flat = [replace(t, metrics=[1.0] * len(t.metrics)) for t in trials]
    assert "scored the same" in importances(flat, 10, "minimize")[1]
    page = page_of(replace(constructed_sweep(tmp_path / "one"), trials=trials[:1]), tmp_path)
    assert "id='importance-note'>parameter importance needs at least 2 trials" in page
    assert "fig-importance" not in page


def test_learning_curves_mark_the_rungs_and_every_promotion(tmp_path):
    sweep = constructed_sweep(tmp_path)
    promoted = {(d.trial, sweep.trials[d.trial].rung_steps[d.rung]) for d in sweep.decisions if d.kind == "promote"}
    assert promotions(sweep) == promoted and len(promoted) == 3 + 1
    page = page_of(sweep, tmp_path)
    traces = figure_data(page, "learning_curves")
    stars = next(t for t in traces if t["name"] == "promoted")
    assert sorted(stars["x"]) == sorted(step for _, step in promoted)
    assert sum(t["name"].startswith("trial ") for t in traces) == 9
    assert all(f"rung {step}" in page for step in (10, 30, 90))  # a dashed line at each rung
    training = figure_data(page, "training_curves")
    assert {t.get("xaxis", "x") for t in training} == {"x", "x2"}  # train_loss and val_accuracy
    timeline = figure_data(page, "timeline")
    assert sum(len(t["y"]) for t in timeline) == sum(len(t.segment_times) for t in sweep.trials) == 9 + 3 + 1


def test_a_recorded_sweep_from_before_reasons_and_wall_times_still_reports(tmp_path):
    sweep = recorded_sweep()
    assert sweep.trials and all(not t.proposed_by and not t.segment_times for t in sweep.trials)
    page = page_of(sweep, tmp_path)
    assert f"<td>not recorded</td><td>{len(sweep.trials)}</td>" in between(page, 'id="proposals"', "</table>")
    assert "id='timeline-note'>wall times not recorded" in page
    assert "fig-training_curves" not in page  # its logs were in a temporary folder long gone
    for name in ("fig-optimization_history", "fig-parallel_coordinates", "fig-slices", "best-test"):
        assert f'id="{name}"' in page, name


@pytest.mark.parametrize("directions, front", [(["minimize", "maximize"], [0, 2, 3]), (["minimize", "minimize"], [0, 1])])
def test_the_pareto_front_holds_the_points_no_other_dominates(directions, front):
    points = {0: [1.0, 0.5], 1: [2.0, 0.1], 2: [3.0, 0.9], 3: [1.5, 0.8], 4: [2.5, 0.6]}
    assert pareto_front(points, directions) == front


def test_several_objectives_draw_their_front_and_one_draws_none(tmp_path):
    sweep = constructed_sweep(tmp_path)
    assert pareto_parts(sweep, PLAIN, {}) == ([], {})
    # a made-up trade-off: better loss, worse macro-F1 for half the trials
    for t in sweep.trials:
        for rung, metrics in enumerate(t.rung_metrics):
            metrics["val_macro_f1"] = t.metrics[rung] if t.number % 2 else 0.2
    config = {**PLAIN, "objectives": [{"metric": "val_loss", "direction": "minimize"},
                                      {"metric": "val_macro_f1", "direction": "maximize"}]}
    parts, figures = pareto_parts(sweep, config, {})
    step = front_step(sweep.trials)
    points = {t.number: [t.metrics[k], t.rung_metrics[k]["val_macro_f1"]] for t in sweep.trials
              for k, at in enumerate(t.rung_steps) if at == step}
    expected = pareto_front(points, ["minimize", "maximize"])
    assert 1 < len(expected) < len(points)
    front = next(trace for trace in figures["pareto"].data if trace.name == "Pareto front")
    assert sorted(int(text.split()[1]) for text in front.text) == expected
    assert "id='front'" in parts[0] and "hypervolume" in figures


def job(index: int, overrides: list[str], accuracy: float | None) -> JobState:
    return JobState(index=index, overrides=overrides, workflow_id=f"m-{index}", state="completed",
                    metrics={} if accuracy is None else {"accuracy": accuracy, "loss": 1 - accuracy})


def test_a_multirun_is_grouped_over_seeds_with_mean_and_spread(tmp_path):
    status = CoordinatorStatus(name="m", parallelism=2, done=True, jobs=[
        job(0, ["optim.lr=0.001", "seed=1"], 0.80), job(1, ["optim.lr=0.001", "seed=2"], 0.84),
        job(2, ["optim.lr=0.01", "seed=1"], 0.50), job(3, ["optim.lr=0.01", "seed=2"], 0.60),
        job(4, ["optim.lr=0.01", "seed=3"], None)])
    groups = {row["setting"]: row for row in seed_groups(status)}
    assert set(groups) == {"optim.lr=0.001", "optim.lr=0.01"}
    low = groups["optim.lr=0.001"]
    assert low["seeds"] == "1 2" and low["runs"] == "2 of 2"
    assert low["test_accuracy"]["mean"] == pytest.approx(0.82) and low["test_accuracy"]["std"] == pytest.approx(0.0283, abs=1e-4)
    high = groups["optim.lr=0.01"]
    assert high["runs"] == "2 of 3" and high["seeds"] == "1 2 3" and high["test_accuracy"]["min"] == 0.5
    page = write_report(tmp_path / "report.html", "m-x5-1", "CoordinatorWorkflow", "COMPLETED", {}, status).read_text()
    table = between(page, 'id="seed-groups"', "</table>")
    assert "<td>optim.lr=0.001</td><td>1 2</td><td>2 of 2</td><td>0.8200 ± 0.0283 (0.8000–0.8400)</td>" in table
    no_seeds = replace(status, jobs=[job(0, ["optim.lr=0.001"], 0.8), job(1, ["optim.lr=0.01"], 0.5)])
    assert seed_groups(no_seeds) == [] and "seed-groups" not in write_report(
        tmp_path / "plain.html", "m-x2-1", "CoordinatorWorkflow", "COMPLETED", {}, no_seeds).read_text()


def test_a_trial_without_results_leaves_the_search_figures_out(tmp_path):
    sweep = replace(constructed_sweep(tmp_path), trials=[TrialState(number=0, params={"optim.lr": 1e-3})], best_trial=-1)
    page = page_of(sweep, tmp_path)
    assert "id='importance-note'" in page and "fig-parallel_coordinates" not in page and "no trial finished a rung" in page
