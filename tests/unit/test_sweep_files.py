"""A sweep's files (a ladder sweep's report, a multirun's leaderboard) are written even when shutting the
workers or the embedded server down fails after the sweep ended: the results already exist, and losing
them to a shutdown error would lose a week's work."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from types import SimpleNamespace

import pytest

import runner.worker
from runner import coordinate
from runner import sweep_session as sweep_module
from runner.identity import Attachment
from runner.resolve import resolve_run
from runner.sweep_config import resolve_sweep
from runner.sweep_session import run_sweep
from tests.conftest import compose_config
from workflows.payloads.runs import COMPLETED, CoordinatorJob, CoordinatorStatus, JobState


def test_files_written_when_the_shutdown_fails(tmp_path, monkeypatch):
    base, plain = resolve_run(compose_config("experiment=bert_sweep"))
    sweep = resolve_sweep(base, plain)
    written = tmp_path / "sweep.json"
    result = SimpleNamespace(trials=[])

    @contextlib.asynccontextmanager
    async def serving(*args, **kwargs):
        yield SimpleNamespace(client=None)
        raise RuntimeError("the embedded server did not stop")

    async def describe():
        return SimpleNamespace(start_time=None)

    async def attach_or_start(*args, **kwargs):
        return SimpleNamespace(id="sweep-1", describe=describe)

    async def watch_sweep(handle, *args):
        return result

    def report(workflow_id, got, output_dir, plain, repo):
        time.sleep(0.3)  # slower than the shutdown, as writing plots is
        assert workflow_id == "sweep-1" and got is result
        written.write_text("{}")

    monkeypatch.setattr(runner.worker, "serving", serving)
    monkeypatch.setattr(sweep_module, "attach_or_start", attach_or_start)
    monkeypatch.setattr(sweep_module, "watch_sweep", watch_sweep)
    monkeypatch.setattr(sweep_module, "report", report)

    async def main() -> bool:
        with pytest.raises(RuntimeError, match="did not stop"):
            await run_sweep(sweep, plain, tmp_path)
        return written.exists()  # at the moment the error reaches the caller, not later

    assert asyncio.run(main())


def test_leaderboard_written_when_the_shutdown_fails(tmp_path, monkeypatch):
    run, _ = resolve_run(compose_config("experiment=bert_single"))
    status = CoordinatorStatus("grid", 1, True, [JobState(0, ["optim.lr=1e-4"], "job-0", state=COMPLETED,
                                                           metrics={"accuracy": 0.8})])

    @contextlib.asynccontextmanager
    async def serving(*args, **kwargs):
        yield SimpleNamespace(client=None)
        raise RuntimeError("the embedded server did not stop")

    async def attach_or_start_coordinator(*args, **kwargs):
        return Attachment(SimpleNamespace(id="grid-1"), attached=False)

    async def watch(handle):
        return status

    monkeypatch.setattr(runner.worker, "serving", serving)
    monkeypatch.setattr(coordinate, "attach_or_start_coordinator", attach_or_start_coordinator)
    monkeypatch.setattr(coordinate, "watch", watch)
    jobs = [CoordinatorJob(0, ["optim.lr=1e-4"], run)]
    with pytest.raises(RuntimeError, match="did not stop"):
        asyncio.run(coordinate.run_coordinator(jobs, "grid", 1, {}, run.run_root, tmp_path))
    written = json.loads((tmp_path / "leaderboard.json").read_text())
    assert written["workflow_id"] == "grid-1" and written["jobs"][0]["test_accuracy"] == 0.8
