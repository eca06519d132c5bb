"""What `train-tune cancel` prints once the run it served has ended: a cancel that landed after the
training's last step keeps the evaluation and ends completed (`workflows.train_eval`), and the command says
so instead of "cancelled"."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from temporalio.client import WorkflowExecutionStatus

from runner.commands import _ending


class Handle:
    """What `_ending` asks of a workflow handle: its status, or a coordinator's jobs."""

    def __init__(self, status: WorkflowExecutionStatus, jobs: list[tuple[int, str]] = ()):
        self.status, self.jobs = status, jobs

    async def describe(self):
        return SimpleNamespace(status=self.status)

    async def query(self, _query):
        return SimpleNamespace(jobs=[SimpleNamespace(index=i, state=s) for i, s in self.jobs])


def test_a_cancel_that_landed_after_the_last_step_says_the_run_completed():
    text = asyncio.run(_ending(Handle(WorkflowExecutionStatus.COMPLETED), None))
    assert text.startswith("completed") and "evaluation was kept" in text
    assert asyncio.run(_ending(Handle(WorkflowExecutionStatus.CANCELED), None)) == "cancelled"


def test_a_cancelled_job_says_how_that_job_ended():
    handle = Handle(WorkflowExecutionStatus.RUNNING, [(0, "cancelled"), (1, "completed")])
    assert asyncio.run(_ending(handle, 0)) == "cancelled"
    assert asyncio.run(_ending(handle, 1)).startswith("completed: the cancel landed after")
