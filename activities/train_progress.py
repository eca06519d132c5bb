"""How a training's progress reaches Temporal: the adapter between a fit on a torch thread and the `train`
activity's coroutine.

The fit puts its newest progress in a `Newest` (no wake-up); the activity's `ProgressRelay` takes it once
a second, heartbeats it (Temporal keeps only the last heartbeat's details, so every heartbeat carries
all of them, the attempt count included) and signals it to a workflow that follows the training. The
count of attempts in a row that started from the same checkpoint travels in those details
(`attempts_without_progress`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace

from temporalio import activity

from workflows.payloads.messages import TrainProgress, TrainRequest
from workflows.payloads.names import PROGRESS_SIGNAL as PROGRESS_SIGNAL


def attempts_without_progress(heartbeat_details, start_step: int) -> int:
    """This attempt's place in the run of attempts that started from `start_step`: 1 when the previous
    attempt (its last heartbeat's details) started from an older checkpoint or there was none, else one
    more than the previous attempt's count."""
    previous = heartbeat_details[0] if heartbeat_details else None
    if not isinstance(previous, dict) or previous.get("resumed_from_step", -1) < start_step:
        return 1
    return int(previous.get("attempts_without_progress") or 1) + 1


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


class ProgressRelay:
    """Heartbeats the fit's progress and signals it to the workflow (when `request.signal_progress`): at
    most every `trainer.progress_interval_s`, at each new checkpoint, and when the fit ends."""

    def __init__(self, request: TrainRequest, start: TrainProgress):
        info = activity.info()
        self.request = request
        self.stalled = start.attempts_without_progress
        self.current = start
        """What the latest heartbeat carried."""
        self.latest = Newest()
        self.workflow = (activity.client().get_workflow_handle(info.workflow_id or "", run_id=info.workflow_run_id)
                         if request.signal_progress else None)
        self.signalled = TrainProgress()
        self.signalled_at = 0.0

    async def relay(self, done: bool) -> None:
        """Heartbeat the newest progress (or the last one again); signal it when due, changed or `done`."""
        fresh = self.latest.take()
        if fresh is None:
            activity.heartbeat(asdict(self.current))
            return
        progress = self.current = replace(fresh, attempts_without_progress=self.stalled)
        activity.heartbeat(asdict(progress))
        due = time.monotonic() - self.signalled_at >= self.request.trainer.progress_interval_s
        changed = progress.latest_checkpoint != self.signalled.latest_checkpoint
        if self.request.signal_progress and (due or changed or done):
            self.signalled, self.signalled_at = progress, time.monotonic()
            await self.signal(progress)

    async def relay_last(self) -> None:
        """The fit's final report (put before it returned), after a cancellation."""
        fresh = self.latest.take()
        if fresh is not None:
            activity.heartbeat(asdict(replace(fresh, attempts_without_progress=self.stalled)))
            if self.request.signal_progress:
                await self.signal(fresh)

    async def signal(self, progress: TrainProgress) -> None:
        """Progress is informative: a workflow that cannot take the signal must not fail the training."""
        if self.workflow is None:
            return
        try:
            await self.workflow.signal(PROGRESS_SIGNAL, progress)
        except Exception as error:  # noqa: BLE001 - any RPC problem only costs a progress update
            activity.logger.warning("progress signal failed: %s", error)


class WorkerShutdown(RuntimeError):
    """The worker was asked to stop (SIGTERM) while training: the checkpoint at `step` is saved."""

    def __init__(self, step: int):
        super().__init__(f"the worker shut down while training; a checkpoint was saved at step {step}, and the "
                         f"next attempt (on any worker) resumes from it")
