"""Kill the training worker (SIGKILL) mid-run, start a new one: the run finishes from its last checkpoint,
with the global step continuing instead of restarting. Stop it gracefully (SIGTERM): it saves a checkpoint
at the step it reached, hands the training back and exits; the next worker resumes from exactly there."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from runner.resolve import resolve_run
from runner.submit import start_run
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.messages import TrainProgress
from workflows.payloads.runs import RunStatus, TrainEvalResult
from workflows.train_eval import TrainEvalWorkflow

MAX_STEPS = 600
EVERY = 40


def start_worker(address: str, queues, run_root: Path, log: Path, *extra: str) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "runner.cli", "worker", f"temporal.address={address}",
        f"temporal.training_queue={queues.training}", f"temporal.orchestration_queue={queues.orchestration}",
        f"run_root={run_root}", *extra,
    ]
    return subprocess.Popen(
        command, stdout=log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[2], env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def checkpoint_reached(handle, worker: subprocess.Popen, log: Path, min_step: int,
                             wait_s: float) -> tuple[int, RunStatus]:
    """Poll a run until its training is past `min_step` with a checkpoint saved, for at most `wait_s` seconds:
    (the newest checkpoint's step, 0 if none in time; the last status). Fails with the worker log when the
    worker dies or the run ends first."""
    loop = asyncio.get_running_loop()
    deadline, status = loop.time() + wait_s, RunStatus(stage="", progress=TrainProgress())
    while loop.time() < deadline:
        try:
            status = await handle.query(TrainEvalWorkflow.status)
        except RPCError as error:  # a worker busy training on a loaded machine may answer a query late
            assert "Timeout" in str(error), error
            continue
        if status.progress.latest_checkpoint and status.progress.step >= min_step:
            return int(Path(status.progress.latest_checkpoint).stem.removeprefix("step")), status
        assert worker.poll() is None, log.read_text()[-3000:]
        running = (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        assert running, log.read_text()[-3000:]  # a run that failed at once says why here, not at the deadline
        await asyncio.sleep(0.2)
    return 0, status


async def killed_mid_run(client, run, plain, run_root: Path, log: Path, min_step: int, wait_s: float,
                         *worker_args: str) -> tuple[TrainEvalResult, int, Any]:
    """Start `run` on a worker, SIGKILL the worker once training is past `min_step` with a checkpoint saved,
    start a second worker and wait for the run's result: (the result, the checkpoint step the kill came
    after, the run's handle). Both workers are stopped, whatever happens."""
    address = client.service_client.config.target_host
    first, second = start_worker(address, run.queues, run_root, log, *worker_args), None
    try:
        handle = await start_run(client, run, plain)
        checkpoint_step, status = await checkpoint_reached(handle, first, log, min_step, wait_s)
        assert checkpoint_step > 0, f"training never reached a checkpoint: {status.progress}\n{log.read_text()[-3000:]}"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        assert status.progress.step < run.trainer.max_steps, "the kill must land mid-run"
        second = start_worker(address, run.queues, run_root, log, *worker_args)
        result: TrainEvalResult = await asyncio.wait_for(handle.result(), timeout=900)
    finally:
        stop(first)
        if second is not None:
            stop(second)
    return result, checkpoint_step, handle


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(30)


async def test_sigkilled_worker_resumes_from_last_checkpoint(temporal_env, run_root, queues, tmp_path):
    run, plain = resolve_run(compose_config(
        *SMALL_RUN, f"run_root={run_root}", f"trainer.max_steps={MAX_STEPS}",
        f"trainer.checkpoint_every_n_steps={EVERY}", f"trainer.val_every_n_steps={EVERY}",
        "trainer.heartbeat_timeout_s=10", "trainer.progress_interval_s=0.2",
    ))
    run.queues = queues
    log = tmp_path / "workers.log"
    result, checkpoint_step, handle = await killed_mid_run(temporal_env.client, run, plain, run_root, log, 3 * EVERY, 900)

    trained = result.train
    assert trained.attempt >= 2
    assert trained.resumed_from_step >= checkpoint_step, (trained, checkpoint_step)
    # a periodic checkpoint, or the one a stopping attempt saves (e.g. after a heartbeat timeout under load)
    checkpoint_dir = Path(run_root) / "checkpoints" / handle.id
    assert trained.resumed_from_step < MAX_STEPS
    assert trained.resumed_from_step % EVERY == 0 or (checkpoint_dir / f"step{trained.resumed_from_step:08d}.ckpt").exists()
    assert trained.global_step == MAX_STEPS
    assert trained.steps_this_attempt == MAX_STEPS - trained.resumed_from_step
    assert Path(result.best_checkpoint).is_file()
    # the training log of the resumed attempt starts at the resume step, not at 0
    metrics = Path(run_root) / "checkpoints" / handle.id / "logs" / f"attempt{trained.attempt}" / "metrics.csv"
    steps = [int(line.split(",")[1]) for line in metrics.read_text().splitlines()[1:] if line.split(",")[1]]
    assert min(steps) >= trained.resumed_from_step


async def test_sigterm_worker_saves_a_checkpoint_where_it_stands_and_hands_the_training_back(
        temporal_env, run_root, queues, tmp_path):
    from runner.worker import running_workers

    run, plain = resolve_run(compose_config(
        *SMALL_RUN, f"run_root={run_root}", f"trainer.max_steps={MAX_STEPS}",
        "trainer.checkpoint_every_n_steps=100000", "trainer.val_every_n_steps=200",  # no periodic checkpoint
        "trainer.heartbeat_timeout_s=10", "trainer.progress_interval_s=0.2",
    ))
    run.queues = queues
    address = temporal_env.client.service_client.config.target_host
    log = tmp_path / "workers.log"
    first = start_worker(address, queues, run_root, log, "queue=training", "shutdown_grace_s=60")
    second = None
    try:
        async with running_workers(temporal_env.client, queues, "orchestration"):
            handle = await start_run(temporal_env.client, run, plain)
            for _ in range(1200):
                status = await handle.query(TrainEvalWorkflow.status)
                if status.progress.step >= 50:
                    break
                assert first.poll() is None, log.read_text()[-3000:]
                await asyncio.sleep(0.1)
            assert status.progress.step >= 50, "training never got going"
            first.send_signal(signal.SIGTERM)
            assert first.wait(90) == 0, log.read_text()[-3000:]
            checkpoints = sorted((Path(run_root) / "checkpoints" / handle.id).glob("step*.ckpt"))
            assert len(checkpoints) == 1, checkpoints
            saved = int(checkpoints[0].stem.removeprefix("step"))
            assert 50 <= saved < MAX_STEPS
            assert f"a checkpoint was saved at step {saved}" in log.read_text()

            second = start_worker(address, queues, run_root, log, "queue=training")
            result: TrainEvalResult = await asyncio.wait_for(handle.result(), timeout=900)
    finally:
        stop(first)
        if second is not None:
            stop(second)
    assert result.train.attempt == 2 and result.train.resumed_from_step == saved, result.train
    assert result.train.global_step == MAX_STEPS and result.train.steps_this_attempt == MAX_STEPS - saved
