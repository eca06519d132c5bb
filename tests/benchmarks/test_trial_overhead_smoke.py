"""Smoke mode of the per-trial overhead benchmark: 40 no-cost trials through the real sweep workflow on
the embedded server; every trial completes once and the report has its figures. No timing asserted."""

import json

from benchmarks import trial_overhead


def test_trial_overhead_smoke_runs_every_trial_through_the_real_workflow(tmp_path):
    assert trial_overhead.main(["--smoke", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "trial-overhead-smoke.json").read_text())
    assert report["trials"] == report["completed"] == 40 and report["finished"] and not report["stalled"]
    assert report["trials_per_s"] > 0 and report["train_round_trip_ms_p99"] >= report["train_round_trip_ms_p50"] > 0
    assert report["suggest_round_trip_ms_p50"] > 0 and report["workflow_runs"] >= 1
    assert report["largest_payload_bytes"] > 0 and report["largest_payload"]
    assert report["peak_rss_mb_server"] > 0 and report["peak_rss_mb_python_client_and_workers"] > 0
    assert (tmp_path / "trial-overhead-smoke.png").read_bytes()[:4] == b"\x89PNG"
