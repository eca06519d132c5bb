"""`train-tune -m` through the temporal launcher, and a coordinator that outlives its runner process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import free_port

FAST = ["dataset.max_samples=200", "dataset.max_length=64", "trainer.batch_size=16", "predict_texts=[]",
        "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10"]


def max_overlap(jobs: list[dict]) -> int:
    """Most jobs running at one instant, from the coordinator's (workflow-time) start/end stamps."""
    events = []
    for job in jobs:
        events.append((datetime.fromisoformat(job["started_at"]), 1))
        events.append((datetime.fromisoformat(job["ended_at"]), -1))
    running = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        running += delta
        peak = max(peak, running)
    return peak


def wait_for_coordinator(runner: subprocess.Popen, log: Path, checkpoints: Path, pattern: str) -> str:
    """The coordinator id the runner printed, once a checkpoint matching `pattern` exists (~2 min at most)."""
    for _ in range(600):
        found = re.search(r"started coordinator (\S+)", log.read_text())
        if found and list(checkpoints.glob(pattern)):
            return found.group(1)
        assert runner.poll() is None, log.read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError(log.read_text()[-3000:])


@pytest.mark.e2e
def test_multirun_of_four_jobs_runs_as_one_coordinator_two_at_a_time(tmp_path):
    done = subprocess.run(
        ["train-tune", "-m", "experiment=bert_parallel", "model=bert_tiny", "optim.lr=1e-3,3e-3", "seed=0,1",
         "trainer.max_steps=40", *FAST, "parallelism=2", f"run_root={tmp_path / 'runs'}",
         f"temporal.port={free_port()}", "temporal.ui=false"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"},
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert len(re.findall(r"started coordinator (\S+) with 4 jobs", output)) == 1

    sweep = next(tmp_path.glob("multirun/*/*"))
    assert (sweep / "multirun.yaml").is_file()
    board = json.loads((sweep / "leaderboard.json").read_text())
    jobs = board["status"]["jobs"]
    assert [j["index"] for j in jobs] == [0, 1, 2, 3]
    assert all(j["state"] == "completed" and j["workflow_id"] == f"{board['workflow_id']}-job{j['index']}" for j in jobs)
    assert max_overlap(jobs) == 2, jobs  # in parallel, never more than parallelism
    assert (sweep / "leaderboard.csv").read_text().startswith("job,overrides,state")
    for index in range(4):  # Hydra's job folders, each with its .hydra and result
        job_dir = sweep / str(index)
        assert (job_dir / ".hydra" / "overrides.yaml").is_file()
        assert json.loads((job_dir / "result.json").read_text())["state"] == "completed"
    assert "leaderboard" in output and "optim.lr=0.003 seed=1" in output


@pytest.mark.e2e
def test_runner_killed_then_status_and_results_from_a_new_process(tmp_path):
    runs = tmp_path / "runs"
    port = free_port()
    connection = [f"run_root={runs}", f"temporal.port={port}", "temporal.ui=false"]
    log = tmp_path / "runner.log"
    runner = subprocess.Popen(
        ["train-tune", "experiment=bert_study", "trainer.max_steps=200", "trainer.heartbeat_timeout_s=5",
         *FAST, *connection],
        cwd=tmp_path, stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"},
    )
    try:
        workflow_id = wait_for_coordinator(runner, log, runs, "checkpoints/*-job*/step*.ckpt")
        runner.send_signal(signal.SIGKILL)
        checkpointed = {}  # job folder -> newest step checkpoint at the kill (a lower bound)
        for path in runs.glob("checkpoints/*-job*/step*.ckpt"):
            step = int(path.stem.removeprefix("step"))
            checkpointed[path.parent.name] = max(step, checkpointed.get(path.parent.name, 0))
        runner.wait(30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    for _ in range(100):  # the embedded server dies with its runner (and keeps its SQLite history)
        if not (runs / "temporal.sqlite.server.json").exists() or not _server_alive(runs):
            break
        time.sleep(0.1)

    status = subprocess.run(
        ["train-tune", "status", workflow_id, *connection], cwd=tmp_path, capture_output=True, text=True,
        timeout=600, env={**os.environ, "COLUMNS": "200"},
    )
    output = status.stdout + status.stderr
    assert status.returncode == 0, output[-4000:]
    assert "4 completed" in output, output[-4000:]
    assert "4 jobs: 4 completed; 800 of 800 steps trained (100%)" in output, output[-4000:]  # the summary line

    results = subprocess.run(
        ["train-tune", "results", workflow_id, "--html", *connection], cwd=tmp_path, capture_output=True, text=True,
        timeout=300, env={**os.environ, "COLUMNS": "200"},
    )
    assert results.returncode == 0, results.stdout + results.stderr
    board = json.loads(next(tmp_path.glob("outputs/*/*/leaderboard.json")).read_text())
    # the report: the leaderboard, a learning curve per job and each job's resolved run
    page = next(tmp_path.glob("outputs/*/*/report.html")).read_text()
    assert all(f"# job {j}" in page for j in range(4)) and page.count("Plotly.newPlot") == 1
    assert all(f"job {j}" in page for j in range(4)) and "max_steps: 200" in page
    assert board["workflow_id"] == workflow_id
    assert [j["state"] for j in board["jobs"]] == ["completed"] * 4
    assert all(j["global_step"] == 200 for j in board["jobs"])
    # the jobs that were mid-training when the runner died resumed from a checkpoint, not from step 0
    assert checkpointed
    for job_dir, step in checkpointed.items():
        metrics = runs / "checkpoints" / job_dir / "logs" / "attempt2" / "metrics.csv"
        if step < 200 and metrics.exists():  # Lightning logs global_step - 1 after each batch
            steps = [int(r.split(",")[1]) for r in metrics.read_text().splitlines()[1:] if r.split(",")[1]]
            assert min(steps) + 1 > step, (job_dir, step, steps[:3])
    assert any(
        (runs / "checkpoints" / d / "logs" / "attempt2").exists() for d, step in checkpointed.items() if step < 200
    ), "a job with a checkpoint was mid-training at the kill, so it must have resumed in a second attempt"


def _server_alive(runs: Path) -> bool:
    try:
        pid = json.loads((runs / "temporal.sqlite.server.json").read_text())["pid"]
        os.kill(pid, 0)
        return True
    except (OSError, ValueError, KeyError):
        return False


@pytest.mark.e2e
def test_cancel_one_job_from_another_process(tmp_path):
    runs = tmp_path / "runs"
    connection = [f"run_root={runs}", f"temporal.port={free_port()}", "temporal.ui=false"]
    log = tmp_path / "runner.log"
    runner = subprocess.Popen(
        ["train-tune", "-m", "experiment=bert_parallel", "seed=0,1", "trainer.max_steps=2000", *FAST, *connection],
        cwd=tmp_path, stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"},
    )
    try:
        workflow_id = wait_for_coordinator(runner, log, runs, "checkpoints/*-job0/step*.ckpt")
        for job in (0, 1):
            cancel = subprocess.run(
                ["train-tune", "cancel", workflow_id, "--job", str(job), *connection],
                cwd=tmp_path, capture_output=True, text=True, timeout=300,
            )
            assert cancel.returncode == 0, cancel.stdout + cancel.stderr
            assert f"cancellation of job {job}" in cancel.stdout
        runner.wait(300)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    board = json.loads(next(tmp_path.glob("multirun/*/*/leaderboard.json")).read_text())
    jobs = {j["index"]: j for j in board["status"]["jobs"]}
    for job in jobs.values():
        assert job["state"] == "cancelled" and 0 < job["step"] < 2000, job
        assert Path(job["latest_checkpoint"]).name == f"step{job['step']:08d}.ckpt"
        assert Path(job["latest_checkpoint"]).is_file()
