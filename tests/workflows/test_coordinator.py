"""CoordinatorWorkflow on a real local server with real training: progress by signals, cancelling one
child, a failing child, and one shared snapshot per dataset."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runner.coordinate import start_coordinator
from runner.resolve import resolve_run
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config
from workflows.coordinator import CoordinatorWorkflow
from workflows.payloads.runs import CoordinatorJob, CoordinatorStatus


def jobs_for(run_root, queues, *per_job: tuple[str, ...], common: tuple[str, ...] = ()) -> list[CoordinatorJob]:
    jobs = []
    for index, overrides in enumerate(per_job):
        run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", *common, *overrides))
        run.queues = queues
        jobs.append(CoordinatorJob(index=index, overrides=list(overrides), run=run))
    return jobs


async def poll_until(handle, predicate, timeout_s: float = 240) -> CoordinatorStatus:
    for _ in range(int(timeout_s / 0.2)):
        status = await handle.query(CoordinatorWorkflow.status)
        if predicate(status):
            return status
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not reached; last status: {status}")


async def test_progress_signals_reach_the_coordinator_query(temporal_env, run_root, queues):
    jobs = jobs_for(run_root, queues, ("seed=0",), ("seed=1",),
                    common=("trainer.max_steps=200", "trainer.checkpoint_every_n_steps=20", "trainer.progress_interval_s=0.2"))
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await start_coordinator(client, "signals", jobs, 2, queues, "")
        mid = await poll_until(handle, lambda s: any(
            j.state == "running" and 0 < j.step < j.max_steps and j.latest_checkpoint for j in s.jobs))
        result: CoordinatorStatus = await handle.result()
    running = [j for j in mid.jobs if j.state == "running" and j.step > 0]
    assert running and all(Path(j.latest_checkpoint).name.startswith("step") for j in running if j.latest_checkpoint)
    assert result.done and [j.state for j in result.jobs] == ["completed", "completed"]
    assert all(j.step == 200 and j.metrics["accuracy"] >= 0 for j in result.jobs)
    assert [j.workflow_id for j in result.jobs] == [f"{handle.id}-job0", f"{handle.id}-job1"]
    # one snapshot shared by both children (same dataset settings)
    children = [await client.get_workflow_handle(j.workflow_id).result() for j in result.jobs]
    assert len({c["dataset_snapshot_id"] for c in children}) == 1


async def test_cancel_one_child_saves_a_checkpoint_and_the_other_finishes(temporal_env, run_root, queues):
    jobs = jobs_for(run_root, queues, ("trainer.max_steps=3000",), ("trainer.max_steps=40",),
                    common=("trainer.checkpoint_every_n_steps=20", "trainer.progress_interval_s=0.2"))
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await start_coordinator(client, "cancel", jobs, 2, queues, "")
        await poll_until(handle, lambda s: s.jobs[0].step >= 25)
        await handle.signal(CoordinatorWorkflow.cancel_job, 0)
        result: CoordinatorStatus = await handle.result()
    cancelled, finished = result.jobs
    assert cancelled.state == "cancelled" and 25 <= cancelled.step < 3000
    # the stop saved a checkpoint at the step where training stopped
    assert Path(cancelled.latest_checkpoint).is_file()
    assert cancelled.latest_checkpoint.endswith(f"step{cancelled.step:08d}.ckpt")
    assert finished.state == "completed" and finished.step == 40
    # the cancelled child ended only once its last report (that checkpoint) reached the coordinator: each
    # progress signal it sent was delivered before it closed (one still in flight is lost with the close)
    events = [e async for e in client.get_workflow_handle(cancelled.workflow_id).fetch_history_events()]
    sent = [e for e in events if e.HasField("signal_external_workflow_execution_initiated_event_attributes")]
    answered = [e for e in events if e.HasField("external_workflow_execution_signaled_event_attributes")
                or e.HasField("signal_external_workflow_execution_failed_event_attributes")]
    assert sent and len(answered) == len(sent), (len(sent), len(answered))


async def test_a_failing_child_is_reported_and_the_others_finish(temporal_env, run_root, queues):
    bad_architecture = ("model.architecture.hidden_size=65", "model.architecture.num_attention_heads=2")
    jobs = jobs_for(run_root, queues, ("seed=0",), bad_architecture, ("seed=2",))
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await start_coordinator(client, "failing", jobs, 2, queues, "")
        result: CoordinatorStatus = await handle.result()
    states = {j.index: j for j in result.jobs}
    assert states[0].state == states[2].state == "completed"
    assert states[1].state == "failed"
    assert "model.architecture" in states[1].error and "transformers refuses" in states[1].error
    child = await client.get_workflow_handle(states[1].workflow_id).describe()
    history = [e async for e in client.get_workflow_handle(states[1].workflow_id).fetch_history_events()]
    attempts = [e for e in history if e.HasField("activity_task_started_event_attributes")]
    assert child.status.name == "FAILED"
    assert max(e.activity_task_started_event_attributes.attempt for e in attempts) == 1, "config errors never retry"


async def test_cancel_a_pending_job_before_it_starts(temporal_env, run_root, queues):
    jobs = jobs_for(run_root, queues, ("seed=0",), ("seed=1",), common=("trainer.max_steps=60",))
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=1):
        handle = await start_coordinator(client, "pending", jobs, 1, queues, "")
        await handle.signal(CoordinatorWorkflow.cancel_job, 1)
        result: CoordinatorStatus = await handle.result()
    assert [j.state for j in result.jobs] == ["completed", "cancelled"]
    assert result.jobs[1].started_at == "" and result.jobs[1].step == 0


async def test_cancel_the_whole_coordinator_checkpoints_every_running_child(temporal_env, run_root, queues):
    from temporalio.client import WorkflowFailureError

    jobs = jobs_for(run_root, queues, ("seed=0",), ("seed=1",), ("seed=2",),
                    common=("trainer.max_steps=3000", "trainer.checkpoint_every_n_steps=20",
                            "trainer.progress_interval_s=0.2"))
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await start_coordinator(client, "cancel-all", jobs, 2, queues, "")
        await poll_until(handle, lambda s: all(j.step >= 5 for j in s.jobs[:2]))
        await handle.cancel()
        try:
            await handle.result()
            raise AssertionError("the coordinator should end cancelled")
        except WorkflowFailureError as error:
            assert "cancel" in str(error.cause).lower()
        children = [client.get_workflow_handle(f"{handle.id}-job{i}") for i in (0, 1)]
        for child in children:  # each child is asked to cancel; its training checkpoints and stops
            for _ in range(300):
                state = (await child.describe()).status.name
                if state != "RUNNING":
                    break
                await asyncio.sleep(0.2)
            assert state == "CANCELED"
        never_started = client.get_workflow_handle(f"{handle.id}-job2")
        try:
            await never_started.describe()
            raise AssertionError("job 2 was pending and must never start")
        except Exception as error:  # noqa: BLE001 - not found
            assert "not found" in str(error).lower()
    for index in (0, 1):
        folder = Path(jobs[index].run.run_root) / "checkpoints" / f"{handle.id}-job{index}"
        assert list(folder.glob("step*.ckpt")), f"job {index} stopped without a checkpoint"
