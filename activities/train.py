"""train: the Temporal face of Lightning training (`activities.engine`).

The fit runs on a torch thread (`activities.torch_thread`); this coroutine heartbeats its progress (step,
loss, latest checkpoint) to Temporal and signals it to the workflow (`activities.train_progress`). When a
worker dies, Temporal notices the missing heartbeats within `heartbeat_timeout` and retries the activity
elsewhere; the retry resumes from the newest step checkpoint in the trial's folder whose sha256 matches
(torn or altered ones are skipped, and said so) with `trainer.fit(ckpt_path=...)`. Cancellation arrives
through heartbeats: the fit saves a checkpoint and stops. Failures a retry cannot mend become
non-retryable errors (`activities.errors`).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import asdict, replace
from pathlib import Path
from typing import NamedTuple

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.engine.checkpoint_files import resume_checkpoint, step_checkpoints, step_of_checkpoint
from activities.errors import final_failure, non_retryable
from activities.paths import confined
from activities.shared_storage import storage
from activities.torch_thread import on_torch_thread
from activities.train_progress import ProgressRelay, WorkerShutdown, attempts_without_progress
from workflows.layout import CHECKPOINTS
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import TrainProgress, TrainRequest, TrainResult


class Start(NamedTuple):
    """Where an attempt starts: the checkpoint it resumes from (None: from scratch), the newer ones passed
    over with their reasons, its global step, and its place in the run of attempts that started there."""

    resume_from: Path | None
    skipped: list[str]
    step: int
    stalled: int


@activity.defn
async def train(request: TrainRequest) -> TrainResult:
    """Fine-tune with step checkpoints; resume from the newest checkpoint on a retry."""
    info = activity.info()
    start = _start(request, info)
    current = TrainProgress(step=start.step, attempt=info.attempt, resumed_from_step=start.step,
                            checkpoint_dir=str(Path(request.checkpoint_dir)), attempts_without_progress=start.stalled)
    # before anything slow, so the next attempt sees this one; every heartbeat carries the details, because
    # Temporal keeps only the last heartbeat's
    activity.heartbeat(asdict(current))

    relay = ProgressRelay(request, current)
    stop = threading.Event()
    training = asyncio.ensure_future(on_torch_thread(_fit, request, start.resume_from, relay.latest.put, stop,
                                                     info.attempt, start.skipped))
    shutdown = asyncio.ensure_future(activity.wait_for_worker_shutdown())
    try:
        result = await _follow(training, shutdown, relay, stop)
        if shutdown.done() and result.global_step < request.stop_step() and not result.stopped_early:
            raise WorkerShutdown(result.global_step)
        if result.samples_per_second:
            activity.logger.info("trained steps %d..%d at %.1f samples/s", result.resumed_from_step,
                                 result.global_step, result.samples_per_second)
        return result
    except asyncio.CancelledError:
        stop.set()  # the fit saves a step checkpoint and returns
        await asyncio.shield(training)
        await relay.relay_last()
        activity.logger.info("training cancelled at step %d; checkpoint saved", training.result().global_step)
        if request.result_on_cancel:  # what it trained, its checkpoint and a last-step validation are kept
            return replace(training.result(), cancelled=True)
        raise
    except WorkerShutdown as error:
        activity.logger.info("%s", error)
        raise ApplicationError(str(error), type="WorkerShutdown") from error  # retried elsewhere, from it
    except Exception as error:
        final = _final(error, request, start)
        if final is None:
            raise  # Temporal retries it (from the newest checkpoint)
        raise final from error
    finally:
        shutdown.cancel()


def _start(request: TrainRequest, info: activity.Info) -> Start:
    """Fetch the newest checkpoint from shared storage (when set) and pick the newest that verifies; fail
    for good on a checkpoint folder outside the run root, or when too many attempts in a row started there."""
    checkpoint_dir = Path(request.checkpoint_dir)
    if request.run_root:
        try:
            confined(checkpoint_dir, Path(request.run_root) / CHECKPOINTS, "checkpoint_dir")
        except ConfigError as error:
            raise non_retryable(error) from error
    try:
        fetch_skipped = storage().fetch_newest_checkpoint(checkpoint_dir)  # shared storage, when set
    except ConfigError as error:
        raise non_retryable(error) from error
    resume_from, skipped = resume_checkpoint(checkpoint_dir)
    skipped = fetch_skipped + skipped
    for reason in skipped:
        activity.logger.warning("attempt %d skips checkpoint %s", info.attempt, reason)
    if resume_from:
        activity.logger.info("attempt %d resumes from %s", info.attempt, resume_from)
    start_step = step_of_checkpoint(resume_from) if resume_from else 0
    stalled = attempts_without_progress(info.heartbeat_details, start_step)
    if stalled > request.trainer.max_attempts:
        raise ApplicationError(
            f"training made no progress in {stalled - 1} attempts in a row: each started from step {start_step} "
            f"and ended (its worker lost, or an error) before saving a newer checkpoint; trainer.max_attempts is "
            f"{request.trainer.max_attempts}. See the worker logs for the errors of those attempts",
            type="NoProgress", non_retryable=True)
    return Start(resume_from, skipped, start_step, stalled)


def _fit(*args) -> TrainResult:
    """`fit` on the torch thread, looked up when called (the chaos tests replace it)."""
    # torch loads here, off the event loop: the runner and the workflow sandbox import this module
    from activities.engine import fitting

    return fitting.fit(*args)


async def _follow(training: asyncio.Future[TrainResult], shutdown: asyncio.Future, relay: ProgressRelay,
                  stop: threading.Event) -> TrainResult:
    """Relay the fit's progress every second until it ends. A worker shutting down (SIGTERM) makes the fit
    save a checkpoint now and stop, to hand the training back to Temporal."""
    waiting = {training, shutdown}
    while True:
        finished, _ = await asyncio.wait(waiting, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
        if shutdown in finished:
            waiting.discard(shutdown)
            stop.set()
            activity.logger.info("worker shutting down: training attempt %d saves a checkpoint and stops",
                                 activity.info().attempt)
        done = training.done()
        await relay.relay(done)
        if done:
            return training.result()


def _final(error: Exception, request: TrainRequest, start: Start) -> ApplicationError | None:
    """The non-retryable error for a failed attempt, or None (Temporal retries it): a failure a retry
    cannot mend (`final_failure`), or the `trainer.max_attempts`-th attempt in a row from the same step
    that saved no newer checkpoint."""
    final = final_failure(error, request.trainer.batch_size)
    newest = step_checkpoints(Path(request.checkpoint_dir))
    if final is None and start.stalled >= request.trainer.max_attempts and (not newest or newest[0][0] <= start.step):
        final = ApplicationError(
            f"{type(error).__name__}: {error} (attempt {start.stalled} in a row that started from step {start.step} "
            f"and saved no newer checkpoint; trainer.max_attempts is {request.trainer.max_attempts})",
            type="NoProgress", non_retryable=True)
    return final
