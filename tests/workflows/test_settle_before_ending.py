"""A segment that ends while the sweep writes a part of its archive is decided on before the sweep ends.

The loop's last check (nothing runs, nothing to start: end) came after its archive write and prune, which
await activities: a segment ending meanwhile left its result undecided, and the sweep ended with trials
that should have gone up "stopped: the sweep ended" (issue 19: archiving runs decided differently, more
often on a busy machine). Here the timing is forced: the last rung-0 segments end while the first part is
written, and the workflow has taken in their results before that write returns.

Training is the analytic stand-in of `tests.support.standin_training` (only the loop is under test).
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.api.enums.v1 import EventType

from runner.sweep_results import with_archive
from tests.support.standin_training import AnalyticTraining, no_op, space, sweep_environment
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.messages import TrainRequest, TrainResult
from workflows.payloads.records import ArchiveRequest
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult

TRIALS = 4


class HeldBack:
    """Trial 0's first segment ends once all four have started (every proposal is in the decision log, so
    a part is due); the other three end only once that part is being written."""

    def __init__(self) -> None:
        self.started: set[int] = set()
        self.ended: set[int] = set()
        self.archiving = asyncio.Event()

    def activity(self):
        inner = AnalyticTraining(no_op, 1).activity()

        @activity.defn(name="train")
        async def train(request: TrainRequest) -> TrainResult:
            number, first = int(request.checkpoint_dir.rsplit("trial", 1)[1]), request.stop_at_step == 1
            if first:
                self.started.add(number)
                while number == 0 and len(self.started) < TRIALS:
                    await asyncio.sleep(0.05)
                if number:
                    await self.archiving.wait()
            result = await inner(request)
            if first:
                self.ended.add(number)
            return result

        return train


async def taken_in(client: Any, workflow_id: str) -> None:
    """Wait until a workflow task has completed after the last training result (the workflow has it)."""
    while True:
        events = (await client.get_workflow_handle(workflow_id).fetch_history()).events
        trains = {e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                  and e.activity_task_scheduled_event_attributes.activity_type.name == "train"}
        last = max((i for i, e in enumerate(events) if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
                    and e.activity_task_completed_event_attributes.scheduled_event_id in trains), default=-1)
        if any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in events[last + 1:]):
            return
        await asyncio.sleep(0.05)


async def test_a_segment_ending_while_a_part_is_archived_is_decided_before_the_sweep_ends(tmp_path, monkeypatch):
    import runner.worker
    from activities.archive import archive_sweep_records

    training, env_client = HeldBack(), []

    @activity.defn(name="archive_sweep_records")
    async def archive(request: ArchiveRequest) -> str:
        training.archiving.set()
        while len(training.ended) < TRIALS:
            await asyncio.sleep(0.05)
        await taken_in(env_client[0], activity.info().workflow_id)
        return await asyncio.to_thread(archive_sweep_records, request)

    monkeypatch.setattr(runner.worker, "ORCHESTRATION_ACTIVITIES", [
        archive if a is archive_sweep_records else a for a in runner.worker.ORCHESTRATION_ACTIVITIES])
    async with sweep_environment(tmp_path, training, parallelism=TRIALS, max_steps=3) as env:  # type: ignore[arg-type]
        env_client.append(env.client)
        sweep = LadderSweepInput(
            name="ending", base=env.base, space=space(1), n_trials=TRIALS, rungs=[1, 3], eta=2, kind="sha",
            sampler=SamplerSpec(name="random", seed=3), parallelism=TRIALS, keep_checkpoints=-1, archive_batch=1)
        result = await asyncio.wait_for(env.client.execute_workflow(
            LadderSweepWorkflow.run, sweep, id=f"ending-{env.base.queues.training}",
            task_queue=env.base.queues.orchestration, result_type=LadderSweepResult), timeout=300)
    merged = with_archive(result)
    assert result.archive.parts >= 1
    assert len([d for d in merged.decisions if d.kind == "promote" and d.rung == 0]) == TRIALS // 2
    assert sorted(t.state for t in merged.trials) == ["completed"] * 2 + ["stopped"] * 2
    assert not [t.number for t in merged.trials if t.reason == "the sweep ended"]
