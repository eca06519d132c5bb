"""Smoke mode of the orchestration-overhead benchmark: 2 real bert_tiny trials through an in-process Optuna
loop and through the `train-tune` command on the embedded server (and Ray Tune where it is installed).
No timing asserted: only that every arm trained every trial and the report is whole."""

import json

from benchmarks import orchestration_overhead


def test_orchestration_overhead_smoke_trains_every_trial_in_every_arm(tmp_path):
    assert orchestration_overhead.main(["--smoke", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "orchestration-overhead-smoke.json").read_text())
    assert {"optuna", "train-tune"} <= set(report["arms"])
    assert all(figures["completed"] == 2 for figures in report["arms"].values()), report
    assert report["arms"]["optuna"]["fit_s_total"] > 0 and report["b_over_a"] > 0
    if "ray" in report["arms"]:
        assert report["arms"]["ray"].get("errors") == 0 and report["b_over_c"] > 0
    assert (tmp_path / "orchestration-overhead-smoke.png").read_bytes()[:4] == b"\x89PNG"
