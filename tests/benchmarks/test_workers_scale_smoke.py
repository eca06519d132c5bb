"""Smoke mode of the several-workers benchmark: 40 no-cost trials served by one and by two worker processes,
against the dev server with its SQLite file and in memory. Every trial completes, two processes share the
work, and the report has its figures. No timing asserted."""

import json

from benchmarks import workers_scale


def test_workers_scale_smoke_spreads_the_trials_over_worker_processes(tmp_path):
    assert workers_scale.main(["--smoke", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "workers-scale-smoke.json").read_text())
    assert [(r["store"], r["workers"]) for r in rows] == [("sqlite", 1), ("sqlite", 2), ("memory", 1), ("memory", 2)]
    for row in rows:
        assert row["completed"] == row["trials"] == 40
        assert len(row["segments_per_worker"]) == row["workers"]
        assert sum(row["segments_per_worker"]) == 41  # the sweep's 40 and the one-trial sweep before the clock
        assert row["trials_per_s"] > 0 and row["train_ms_p99"] >= row["train_ms_p50"] > 0
        assert row["suggest_ms_p50"] > 0 and row["workflow_task_ms_p50"] > 0
        assert row["cpu_ms_per_trial_server"] > 0 and row["cpu_ms_per_trial_workers"] > 0
    assert all(min(r["segments_per_worker"]) > 0 for r in rows if r["workers"] == 2)
