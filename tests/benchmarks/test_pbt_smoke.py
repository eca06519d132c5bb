"""Smoke mode of the PBT benchmark, train-tune's arm only (Ray Tune is not part of the install): a real
`ladder=pbt` sweep of 2 bert_tiny members for 2 intervals of 10 steps through the LadderSweepWorkflow on the
embedded server. No figure is asserted beyond what the setup fixes: every member trained every step, the
one decision (the bottom member of 2 exploits the top, or skips on a tie) was made, and the report is whole."""

import json

from benchmarks import pbt


def test_pbt_smoke_trains_the_population_and_writes_the_report(tmp_path):
    assert pbt.main(["--smoke", "--arms", "train-tune", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "pbt-smoke.json").read_text())
    assert report["setup"]["population"] == 2 and report["setup"]["steps"] == 20
    (run,) = report["runs"]
    ours = run["train-tune"]
    assert "ray" not in run and report["ratios_train_tune_over_ray"] == {}
    assert ours["members_finished"] == 2 and ours["steps_trained"] == 2 * 20, ours
    # one boundary, one bottom member: it copies the top one, or (10 steps in, both members often still at
    # the majority class's accuracy) a tie copies nothing
    assert ours["exploits"] + ours["exploit_skips"] == 1, ours
    assert 0.0 <= ours["best_val_accuracy"] <= 1.0 and 0.0 <= ours["best_test_accuracy"] <= 1.0
    assert ours["best_member"] in (0, 1) and ours["wall_s"] > 0
    assert len(ours["loadavg_before"].split()) == 3
    assert [set(member) for member in ours["initial_population"]] == [{"optim.lr", "optim.weight_decay"}] * 2
    for member in ours["initial_population"]:
        assert 1e-4 <= member["optim.lr"] <= 1e-2 and 0.0 <= member["optim.weight_decay"] <= 0.2
    assert report["medians"]["train-tune"]["steps_trained"] == 40


def test_ratios_are_train_tune_over_ray_of_the_medians():
    runs = [{"seed": s, "train-tune": {"best_val_accuracy": v, "wall_s": w}, "ray": {"best_val_accuracy": 0.5,
                                                                                   "wall_s": 100.0}}
            for s, v, w in [(0, 0.4, 50.0), (1, 0.6, 300.0), (2, 0.5, 80.0)]]
    summary = pbt.summarise(runs, list(pbt.ARMS))
    assert summary["medians"]["train-tune"]["wall_s"] == 80.0
    assert summary["ratios_train_tune_over_ray"]["wall_s"] == 0.8
    assert summary["ratios_train_tune_over_ray"]["best_val_accuracy"] == 1.0
    assert summary["ratios_train_tune_over_ray"]["best_test_accuracy"] is None  # no arm scored it
