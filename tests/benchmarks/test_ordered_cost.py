"""The ordered-vs-arrival cost benchmark (benchmarks/ordered_cost.py) and the sweep arm it shares with the
search-efficiency benchmark (benchmarks/sweep_arm.py): the sweeps it plans carry the mode, its figures are
computed as documented, and a smoke run of both modes writes a whole report. No figure is asserted."""

import asyncio
import json
import math
from dataclasses import replace

from temporalio.testing import ActivityEnvironment

from benchmarks import ordered_cost
from benchmarks.sweep_arm import SweepPlan, Trace, sweep_input
from tests.support import standin_training
from workflows.payloads.messages import DatasetSnapshot, TrainRequest
from workflows.payloads.specs import ModelSpec, OptimSpec, TrainerSpec


def test_each_seed_is_planned_in_both_modes_side_by_side_and_its_sweep_carries_the_mode():
    plans = ordered_cost.plans_for("asha", 4, [0, 1], lag=3)
    assert [(p.arm, p.seed, p.deterministic) for p in plans] == [
        ("asha p4 ordered", 0, True), ("asha p4 arrival", 0, False),
        ("asha p4 ordered", 1, True), ("asha p4 arrival", 1, False)]
    sweep = sweep_input("asha", 3, plans[1], "s", base=None)
    assert (sweep.parallelism, sweep.sampler.deterministic, sweep.sampler.lag, sweep.sampler.seed) == (4, False, 3, 0)
    assert sweep_input("asha", 3, SweepPlan("a", 2), "s", base=None).sampler.deterministic is True  # the default
    assert sweep_input("asha", 3, SweepPlan("a", 2), "s", base=None).n_trials == 5000  # without end: up to the cap
    assert sweep_input("asha", 3, SweepPlan("a", 2, n_trials=27), "s", base=None).n_trials == 27


def trace(arm: str, seed: int, points: list[tuple[float, float, float]], wall_s: float) -> Trace:
    return Trace(arm, "f", seed, [(b, r) for b, r, _ in points], trials=3, seconds=[s for _, _, s in points],
                 wall_s=wall_s)


def test_figures_count_budget_and_wall_time_to_the_target_and_to_the_stop():
    # reaches 1% at budget 2.0 after 30 s; stopped at 40 s with 4.0 spent (the result at 45 s came after the stop)
    t = trace("asha p4 ordered", 0, [(1.0, 0.5, 10.0), (2.0, 0.005, 30.0), (4.0, 0.004, 40.0), (5.0, 0.004, 45.0)],
              wall_s=40.0)
    assert ordered_cost.seconds_to_target(t) == 30.0
    assert ordered_cost.seconds_per_training(t) == 10.0
    assert abs(ordered_cost.slot_use(t, parallelism=4, step_s=0.05) - 4.0 * 81 * 0.05 / (40.0 * 4)) < 1e-12
    never = trace("asha p4 ordered", 1, [(1.0, 0.5, 10.0)], wall_s=12.0)
    assert ordered_cost.seconds_to_target(never) == math.inf


def test_ordered_over_arrival_is_a_ratio_of_medians_per_parallelism():
    ordered = [trace("asha p4 ordered", s, [(1.0, 0.5, 5.0), (2.0 + s, 0.001, 20.0)], wall_s=20.0) for s in range(5)]
    arrival = [trace("asha p4 arrival", s, [(1.0, 0.5, 5.0), (1.0 + s, 0.002, 10.0)], wall_s=10.0) for s in range(5)]
    rows, ratios = ordered_cost.summarise(ordered + arrival, fixed=1.5, step_s=0.0)
    assert [r["arm"] for r in rows] == ["asha p4 arrival", "asha p4 ordered"]
    assert rows[1]["budget_to_1pct_median"] == 4.0 and rows[0]["budget_to_1pct_median"] == 3.0
    got = ratios["asha p4"]
    assert set(got) == {"budget_to_1pct", "seconds_to_1pct", "seconds_per_training", "final_regret", "budget",
                        "wall_s", "budget_to_top_rung", "regret_at_1.5"}
    assert got["wall_s"][0] == 2.0 and abs(got["final_regret"][0] - 0.5) < 1e-9
    assert abs(got["budget_to_1pct"][0] - 4.0 / 3.0) < 1e-9 and got["seconds_to_1pct"][0] == 2.0


def test_the_stand_in_training_takes_its_time_per_step_trained(monkeypatch, tmp_path):
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(standin_training.asyncio, "sleep", sleep)
    training = standin_training.AnalyticTraining(lambda x, s: -s, dims=1, seconds_per_step=0.5)
    snapshot = DatasetSnapshot(id="s", uri=str(tmp_path), label_names=["a", "b"], split_sizes={"train": 1},
                               pad_token_id=0, max_length=8)
    request = TrainRequest(model=ModelSpec(name="m"), optim=OptimSpec(), trainer=replace(TrainerSpec(), max_steps=81),
                           snapshot=snapshot, seed=0, checkpoint_dir=str(tmp_path / "t0"), stop_at_step=9)
    env = ActivityEnvironment()
    assert asyncio.run(env.run(training.activity(), request)).global_step == 9
    asyncio.run(env.run(training.activity(), replace(request, stop_at_step=27)))  # resumes at 9: 18 steps
    assert slept == [4.5, 9.0]
    assert standin_training.AnalyticTraining(lambda x, s: s, dims=1).seconds_per_step == 0.0  # the other benchmarks: no wait


def test_ordered_cost_smoke_runs_both_modes(tmp_path):
    assert ordered_cost.main(["--smoke", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "ordered-cost-smoke.json").read_text())
    assert {row["arm"] for row in report["rows"]} == {"asha p4 ordered", "asha p4 arrival"}
    assert set(report["ordered_over_arrival"]) == {"asha p4"}
    assert report["machine"]["cpus"] and report["machine"]["samples"] >= 2
    for t in report["traces"]:
        assert t["points"] and t["points"][-1][0] >= 2.0 and t["wall_s"] > 0, t["arm"]
