"""Smoke mode of the several-workers benchmark: 40 no-cost trials served by one and by two worker processes,
against the dev server with its SQLite file and in memory. Every trial completes, two processes share the
work, and the report has its figures. No timing asserted."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def children(pid: int) -> set[int]:
    """The live processes whose parent is `pid` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_sigterm_stops_the_benchmarks_server_and_workers(tmp_path):
    # the server and the worker processes run in sessions of their own, so only the benchmark can stop them
    bench = subprocess.Popen([sys.executable, "-m", "benchmarks.workers_scale", "--trials", "100000", "--workers", "2",
                              "--stores", "memory", "--parallelism", "2", "--out", str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(kids := children(bench.pid)) < 3 and time.monotonic() < deadline and bench.poll() is None:
            time.sleep(0.5)
        assert len(kids) == 3, (kids, bench.poll())  # the server and two workers
        time.sleep(3)  # the workers' imports under way or done, the sweep maybe started
        bench.send_signal(signal.SIGTERM)
        out, err = bench.communicate(timeout=90)
    finally:
        if bench.poll() is None:
            os.killpg(bench.pid, signal.SIGKILL)
    assert bench.returncode == 130, err[-2000:]
    assert "stopped after 0 of 1 measurements" in err and "Traceback" not in err, err[-2000:]
    assert not [pid for pid in kids if alive(pid)]
    assert not list(tmp_path.iterdir())
