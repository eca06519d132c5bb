"""train: the Temporal face of Lightning training.

The fit runs on a torch thread (`activities.torch_thread`); this coroutine heartbeats its progress (step,
loss, latest checkpoint) to
Temporal and signals it to the workflow. When a worker dies, Temporal notices the missing heartbeats
within `heartbeat_timeout` and retries the activity elsewhere; the retry resumes from the newest step
checkpoint in the trial's folder whose sha256 matches (torn or altered ones are skipped, and said so)
with `trainer.fit(ckpt_path=...)`. Cancellation arrives through heartbeats: the fit saves a
checkpoint and stops.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.engine.checkpoint_files import resume_checkpoint, step_checkpoints, step_of_checkpoint
from activities.errors import ConfigError, final_failure, non_retryable
from activities.paths import confined
from activities.shared_storage import storage
from activities.torch_thread import on_torch_thread
from workflows.messages import TrainProgress, TrainRequest, TrainResult

PROGRESS_SIGNAL = "report_progress"
"""Signal that workflows running `train` accept to follow its progress."""


def attempts_without_progress(heartbeat_details, start_step: int) -> int:
    """This attempt's place in the run of attempts that started from `start_step`: 1 when the previous
    attempt (its last heartbeat's details) started from an older checkpoint or there was none, else one
    more than the previous attempt's count."""
    previous = heartbeat_details[0] if heartbeat_details else None
    if not isinstance(previous, dict) or previous.get("resumed_from_step", -1) < start_step:
        return 1
    return int(previous.get("attempts_without_progress") or 1) + 1


@activity.defn
async def train(request: TrainRequest) -> TrainResult:
    """Fine-tune with step checkpoints; resume from the newest checkpoint on a retry."""
    info = activity.info()
    checkpoint_dir = Path(request.checkpoint_dir)
    if request.run_root:
        try:
            confined(checkpoint_dir, Path(request.run_root) / "checkpoints", "checkpoint_dir")
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
    current = TrainProgress(step=start_step, attempt=info.attempt, resumed_from_step=start_step,
                            checkpoint_dir=str(checkpoint_dir), attempts_without_progress=stalled)
    # before anything slow, so the next attempt sees this one; every heartbeat carries the details, because
    # Temporal keeps only the last heartbeat's
    activity.heartbeat(asdict(current))

    latest = Newest()
    stop = threading.Event()

    training = asyncio.ensure_future(on_torch_thread(_fit, request, resume_from, latest.put, stop, info.attempt,
                                                     skipped))
    workflow = (activity.client().get_workflow_handle(info.workflow_id or "", run_id=info.workflow_run_id)
                if request.signal_progress else None)
    signalled = TrainProgress()
    signalled_at = 0.0
    shutdown = asyncio.ensure_future(activity.wait_for_worker_shutdown())
    waiting = {training, shutdown}
    try:
        while True:
            finished, _ = await asyncio.wait(waiting, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            if shutdown in finished:
                # SIGTERM to the worker: save a checkpoint now and hand the training back to Temporal
                waiting.discard(shutdown)
                stop.set()
                activity.logger.info("worker shutting down: training attempt %d saves a checkpoint and stops",
                                     info.attempt)
            done = training.done()
            fresh = latest.take()
            if fresh is not None:
                progress = current = replace(fresh, attempts_without_progress=stalled)
                activity.heartbeat(asdict(progress))
                due = time.monotonic() - signalled_at >= request.trainer.progress_interval_s
                changed = progress.latest_checkpoint != signalled.latest_checkpoint
                if request.signal_progress and (due or changed or done):
                    signalled, signalled_at = progress, time.monotonic()
                    await _signal_progress(workflow, progress)
            else:
                activity.heartbeat(asdict(current))
            if done:
                break
        result = training.result()
        if shutdown.done() and result.global_step < (request.stop_at_step or request.trainer.max_steps):
            raise WorkerShutdown(result.global_step)
        if result.samples_per_second:
            activity.logger.info("trained steps %d..%d at %.1f samples/s", result.resumed_from_step,
                                 result.global_step, result.samples_per_second)
        return result
    except asyncio.CancelledError:
        stop.set()  # the fit saves a step checkpoint and returns
        await asyncio.shield(training)
        fresh = latest.take()  # the fit's final report, put before it returned
        if fresh is not None:
            activity.heartbeat(asdict(replace(fresh, attempts_without_progress=stalled)))
            if request.signal_progress:
                await _signal_progress(workflow, fresh)
        activity.logger.info("training cancelled at step %d; checkpoint saved", training.result().global_step)
        if request.result_on_cancel:  # what it trained, its checkpoint and a last-step validation are kept
            return replace(training.result(), cancelled=True)
        raise
    except WorkerShutdown as error:
        activity.logger.info("%s", error)
        raise ApplicationError(str(error), type="WorkerShutdown") from error  # retried elsewhere, from it
    except Exception as error:
        final = final_failure(error, request.trainer.batch_size)
        newest = step_checkpoints(checkpoint_dir)
        if final is None and stalled >= request.trainer.max_attempts and (not newest or newest[0][0] <= start_step):
            final = ApplicationError(
                f"{type(error).__name__}: {error} (attempt {stalled} in a row that started from step {start_step} "
                f"and saved no newer checkpoint; trainer.max_attempts is {request.trainer.max_attempts})",
                type="NoProgress", non_retryable=True)
        if final is None:
            raise  # Temporal retries it (from the newest checkpoint)
        raise final from error
    finally:
        shutdown.cancel()


def _fit(*args) -> TrainResult:
    """`fit` on the torch thread, looked up when called (the chaos tests replace it)."""
    # torch and Lightning load here, on the first training, off the event loop (which keeps heartbeating):
    # the runner and the workflow sandbox import this module without them
    from activities.engine import fitting

    return fitting.fit(*args)


class Newest:
    """The newest progress the training thread has put, for the activity's loop to take when it looks (every
    second, and when the fit ends). Putting wakes nothing: a wake-up of the event loop at every step made
    the training thread hand over the GIL once a step."""

    def __init__(self) -> None:
        self.value: TrainProgress | None = None
        self.taken: TrainProgress | None = None

    def put(self, progress: TrainProgress) -> None:  # the training thread; one assignment, atomic
        self.value = progress

    def take(self) -> TrainProgress | None:
        """The newest progress if it was not taken yet, else None. Nothing is cleared, so a progress put
        while this runs is never lost: it is newer than what is taken here, and the next take returns it."""
        value = self.value
        if value is None or value is self.taken:
            return None
        self.taken = value
        return value


class WorkerShutdown(RuntimeError):
    """The worker was asked to stop (SIGTERM) while training: the checkpoint at `step` is saved."""

    def __init__(self, step: int):
        super().__init__(f"the worker shut down while training; a checkpoint was saved at step {step}, and the "
                         f"next attempt (on any worker) resumes from it")


async def _signal_progress(workflow, progress: TrainProgress) -> None:
    """Progress is informative: a workflow that cannot take the signal must not fail the training."""
    try:
        await workflow.signal(PROGRESS_SIGNAL, progress)
    except Exception as error:  # noqa: BLE001 - any RPC problem only costs a progress update
        activity.logger.warning("progress signal failed: %s", error)
