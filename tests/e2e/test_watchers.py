"""Watching does not interfere: `status` and `results` from other terminals while a sweep's runner serves it
take no task of it (every workflow and activity task of the sweep was started by the runner's worker),
`results` answers at once from the sweep's state, and Ctrl-C on a live `status` leaves quietly while the
sweep goes on to complete."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import compose_config, free_port
from tests.e2e.test_cli import start_sweep_runner, train_tune
from tests.support.hangs import ctrl_c_able, wait_or_dump


def sweep_id_once_checkpointed(runner: subprocess.Popen, log: Path, runs: Path, limit_s: float = 900) -> str:
    """The sweep id the runner printed, once some trial has written a checkpoint (slow on a busy machine)."""
    import re

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = re.search(r"started sweep (\S+):", log.read_text())
        if found and list(runs.glob("checkpoints/*/trial*/step*.ckpt")):
            return found.group(1)
        assert runner.poll() is None, log.read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"no sweep checkpoint within {limit_s:.0f} s:\n{log.read_text()[-3000:]}")


def newest_checkpoint(runs: Path) -> float:
    """When the newest step checkpoint of any trial was written."""
    times = [0.0]
    for path in runs.glob("checkpoints/*/trial*/step*.ckpt"):
        with contextlib.suppress(FileNotFoundError):  # pruned meanwhile
            times.append(path.stat().st_mtime)
    return max(times)


async def task_starters(connection_overrides: list[str], run_root: Path, workflow_id: str) -> dict[str, set[str]]:
    """The identities of the workers that took each kind of task of the workflow ("train", the other
    activities, "workflow task"): from its history (an activity's start is recorded once it ends) and, for
    the activities running now, from its description. Read on the embedded server of `run_root` (started
    again here if no process holds it)."""
    from temporalio.api.enums.v1 import EventType

    from runner.connect import temporal_connection
    from runner.resolve import to_plain

    temporal = to_plain(compose_config(*connection_overrides, config_name="worker"))["temporal"]
    starters: dict[str, set[str]] = {}
    async with temporal_connection(temporal, str(run_root)) as connection:
        handle = connection.client.get_workflow_handle(workflow_id)
        history = await handle.fetch_history()
        scheduled = {}
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attributes = event.activity_task_started_event_attributes
                starters.setdefault(scheduled[attributes.scheduled_event_id], set()).add(attributes.identity)
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                starters.setdefault("workflow task", set()).add(event.workflow_task_started_event_attributes.identity)
        for pending in (await handle.describe()).raw_description.pending_activities:
            if pending.last_worker_identity:
                starters.setdefault(pending.activity_type.name, set()).add(pending.last_worker_identity)
    return starters


@pytest.mark.e2e
@pytest.mark.timeout(1800)  # five train-tune processes beside a sweep: slow on a busy machine
def test_status_and_results_from_other_terminals_take_no_training_and_ctrl_c_leaves_quietly(tmp_path):
    runs = tmp_path / "runs"
    connection = [f"run_root={runs}", f"temporal.port={free_port()}", "temporal.ui=false"]
    # short first-rung segments, many of them: trainings are scheduled while the watchers (slow to start on a
    # busy machine) look; a long top rung: the sweep still runs when they have looked
    runner, log = start_sweep_runner(tmp_path, "n_trials=12", "ladder.rungs=[20,3000]", "trainer.max_steps=3000",
                                     *connection)
    watcher = None
    try:
        sweep_id = sweep_id_once_checkpointed(runner, log, runs)

        results = train_tune("results", sweep_id, *connection, cwd=tmp_path, timeout=300)
        said = results.stdout + results.stderr
        assert results.returncode == 0, said[-4000:]
        assert f"{sweep_id} is still running" in said and "trials final" in said, said[-4000:]
        assert "Traceback" not in said
        assert not list(tmp_path.glob("outputs/*/*/sweep.json"))  # no files of a sweep that has not ended

        for _ in range(3):  # a running segment shows its step (one may be between segments at that instant)
            once = train_tune("status", sweep_id, "--once", *connection, cwd=tmp_path, timeout=300)
            assert once.returncode == 0 and "RUNNING" in once.stdout, (once.stdout + once.stderr)[-4000:]
            if re.search(r"running \(step \d+/\d+\)", once.stdout):
                break
        else:
            raise AssertionError(f"no running segment's step in status --once: {once.stdout[-4000:]}")

        watched = tmp_path / "status.log"
        watcher = subprocess.Popen(["train-tune", "status", sweep_id, *connection], cwd=tmp_path,
                                   stdout=watched.open("w"), stderr=subprocess.STDOUT,
                                   env={**os.environ, "COLUMNS": "200"},
                                   preexec_fn=ctrl_c_able)  # noqa: PLW1509 - it only resets a signal disposition
        for _ in range(600):  # until its live table shows (the trial table's title)
            if "params" in watched.read_text() or watcher.poll() is not None:
                break
            time.sleep(0.2)
        assert watcher.poll() is None, watched.read_text()[-4000:]
        watcher.send_signal(signal.SIGINT)  # Ctrl-C
        assert wait_or_dump(watcher, 120, watched) == 0, watched.read_text()[-4000:]
        output = watched.read_text()
        assert "stopped watching; the run goes on" in output and "Traceback" not in output, output[-4000:]
        interrupted = newest_checkpoint(runs)
        for _ in range(3000):  # the sweep goes on: its runner trains on
            if newest_checkpoint(runs) > interrupted:
                break
            assert runner.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        assert newest_checkpoint(runs) > interrupted

        running = asyncio.run(task_starters(connection, runs, sweep_id))  # while the runner serves the sweep
        cancel = train_tune("cancel", sweep_id, *connection, cwd=tmp_path, timeout=300)  # the trainings checkpoint
        assert cancel.returncode == 0, (cancel.stdout + cancel.stderr)[-3000:]
        assert runner.wait(600) == 1 and "Traceback" not in log.read_text(), log.read_text()[-3000:]
    finally:
        for process in (watcher, runner):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()

    runner_identity = f"{runner.pid}@{socket.gethostname()}"
    starters = asyncio.run(task_starters(connection, runs, sweep_id))
    for kind, who in running.items():
        starters.setdefault(kind, set()).update(who)
    assert starters["train"] == {runner_identity}, starters  # every training segment ran in the runner
    assert all(who == {runner_identity} for who in starters.values()), starters  # and every other task


@pytest.mark.e2e
@pytest.mark.timeout(1500)
def test_a_watcher_serves_a_sweep_whose_runner_died_and_ctrl_c_on_it_leaves_quietly(tmp_path):
    """Nobody serves the sweep once its runner is SIGKILLed: `status` takes it over (its training
    segments run in the watcher) and Ctrl-C on it checkpoints them and leaves without a traceback; the
    sweep stays RUNNING, for whoever serves it next."""
    runs = tmp_path / "runs"
    connection = [f"run_root={runs}", f"temporal.port={free_port()}", "temporal.ui=false"]
    runner, log = start_sweep_runner(tmp_path, "ladder.rungs=[300,3000]", "trainer.max_steps=3000",
                                     "trainer.heartbeat_timeout_s=5", *connection)
    watcher = None
    try:
        sweep_id = sweep_id_once_checkpointed(runner, log, runs)
        runner.send_signal(signal.SIGKILL)
        runner.wait(30)
        before = set(runs.glob("checkpoints/*/trial*/step*.ckpt"))
        watched = tmp_path / "status.log"
        watcher = subprocess.Popen(["train-tune", "status", sweep_id, *connection], cwd=tmp_path,
                                   stdout=watched.open("w"), stderr=subprocess.STDOUT,
                                   env={**os.environ, "COLUMNS": "200"},
                                   preexec_fn=ctrl_c_able)  # noqa: PLW1509 - it only resets a signal disposition
        for _ in range(3000):  # until a training it serves has written a checkpoint of its own
            if set(runs.glob("checkpoints/*/trial*/step*.ckpt")) - before or watcher.poll() is not None:
                break
            time.sleep(0.2)
        assert watcher.poll() is None, watched.read_text()[-4000:]
        watcher.send_signal(signal.SIGINT)  # Ctrl-C while it trains
        assert wait_or_dump(watcher, 180, watched) == 0, watched.read_text()[-4000:]
        output = watched.read_text()
        assert "stopped watching; the run goes on" in output and "Traceback" not in output, output[-4000:]
    finally:
        for process in (watcher, runner):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    once = train_tune("status", sweep_id, "--once", *connection, cwd=tmp_path, timeout=300)
    assert once.returncode == 0 and f"{sweep_id}: RUNNING" in once.stdout, (once.stdout + once.stderr)[-4000:]
