"""Honest accounting with real bert_tiny training: a user stop keeps what a segment trained (steps,
checkpoint, a validation at its last step), a stopped sweep says so, and results trained under different
LR schedules after `extend --rungs` are recorded and logged as such."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path

import pytest
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from activities.engine.fitting import fit
from activities.snapshot import build_snapshot
from activities.train import train
from runner.resolve import resolve_run
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config
from tests.workflows.test_ladder_sweep import small_sweep, started_paused, wait_for
from workflows.accounting import MIXED, mixed_steps, schedule_id
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.messages import SnapshotRequest, TrainRequest
from workflows.payloads.sweep import ExtendRequest, LadderSweepResult
from workflows.train_eval import TrainEvalWorkflow


async def test_stop_trial_while_it_trains_keeps_its_steps_and_checkpoint_in_the_records(
    temporal_env, run_root, queues
):
    sweep = small_sweep(run_root, queues, [2000], 2, "trainer.max_steps=2000")
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"stop-keeps-{queues.training}",
                                             task_queue=queues.orchestration)
        folder = Path(sweep.base.run_root) / "checkpoints" / handle.id
        for _ in range(1200):
            if list(folder.glob("trial0/step*.ckpt")) and list(folder.glob("trial1/step*.ckpt")):
                break
            await asyncio.sleep(0.1)
        await handle.signal(LadderSweepWorkflow.stop_trial, 0)
        await handle.signal(LadderSweepWorkflow.stop_trial, 1)
        result: LadderSweepResult = await handle.result()
        history = await handle.fetch_history()
    for t in result.trials:
        newest = sorted(folder.glob(f"trial{t.number}/step*.ckpt"))[-1]
        step = int(newest.stem.removeprefix("step"))
        assert 10 <= step < 2000
        # the steps it trained and the checkpoint it saved when stopped are in its record
        assert (t.state, t.user_stopped, t.demoted) == ("stopped", True, False)
        assert t.steps_trained == t.stopped_at_step == step, (t.steps_trained, t.stopped_at_step, step)
        assert t.checkpoint == str(newest)
        assert t.metrics == [] and f"at step {step}" in t.reason
    assert result.total_steps == sum(t.steps_trained for t in result.trials)
    assert sorted(result.stopped_by_user) == [0, 1] and not result.stopped
    assert result.best_trial == -1  # no trial reached a rung
    replay = await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow, CoordinatorWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None


async def test_a_cancel_after_the_last_step_keeps_the_evaluation(run_root, tmp_path):
    """The segment reached its last step (here: a retried attempt that resumes at it) when the cancel came:
    the activity still validates there and hands the result back, instead of ending cancelled without it."""
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=20"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    folder = tmp_path / "trial"
    request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot, seed=run.seed,
                           checkpoint_dir=str(folder), stop_at_step=10, signal_progress=False, result_on_cancel=True)
    first = fit(dataclasses.replace(request, trainer=dataclasses.replace(run.trainer, val_every_n_steps=1000)),
                None, lambda p: None, threading.Event(), 1)
    assert first.global_step == 10 and first.final_score is not None  # validated after its last step

    env = ActivityEnvironment()
    beats: list[dict] = []

    def heartbeat(*details) -> None:  # the first heartbeat comes before the fit starts: cancel once, there
        beats.extend(details)
        if len(beats) == 1:
            env.cancel()

    env.on_heartbeat = heartbeat
    result = await env.run(train, request)
    assert result.cancelled and result.global_step == 10 and result.resumed_from_step == 10
    assert result.final_score == pytest.approx(first.final_score)  # the same checkpoint, validated again


async def test_a_sweep_the_user_stopped_says_so(temporal_env, run_root, queues):
    sweep = small_sweep(run_root, queues, [10, 20], 3)
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await started_paused(client, sweep, f"stopped-{queues.training}")
        await handle.signal(LadderSweepWorkflow.stop)
        try:  # a paused sweep with nothing running may end at the stop, before the resume reaches it
            await handle.signal(LadderSweepWorkflow.resume)
        except RPCError as error:
            assert "already completed" in str(error)
        result: LadderSweepResult = await handle.result()
    assert result.stopped


async def test_extend_rungs_records_each_results_schedule_and_logs_rankings_across_them(
    temporal_env, run_root, queues
):
    sweep = small_sweep(run_root, queues, [10], 3)
    sweep.parallelism = 3  # all three start at once: each trains its rung before the extend
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=3):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"schedules-{queues.training}",
                                             task_queue=queues.orchestration)
        # pause once all three started, long before any finishes (pausing after a first result raced the
        # other two on a slow machine: all three may finish together and the sweep end before the pause)
        await wait_for(handle, lambda ts: len(ts) == 3, "the three trials to start", timeout_s=600)
        await handle.signal(LadderSweepWorkflow.pause)  # a paused sweep stays open once its work is done
        await wait_for(handle, lambda ts: len(ts) == 3 and all(t.metrics for t in ts), "the three rung results",
                       timeout_s=600)
        await handle.execute_update(LadderSweepWorkflow.extend, ExtendRequest(trials=3, rungs=[20]))
        await handle.signal(LadderSweepWorkflow.resume)
        result: LadderSweepResult = await handle.result()
        history = await handle.fetch_history()
    old = [t for t in result.trials if t.bracket == 0]
    new = [t for t in result.trials if t.bracket == 1]
    assert len(old) == len(new) == 3
    # a trial trained before the extend ran under the 10-step schedule; its segment after it under 20 steps
    assert all(t.schedule_steps[0] == 10 for t in old) and all(t.schedule_steps[0] == 20 for t in new)
    assert {schedule_id(t, 1) for t in result.trials if t.rung == 1} == {"10>20", "20"}
    assert mixed_steps(result.trials) == {10: ["10", "20"], 20: ["10>20", "20"]}
    # each bracket's rungs ranked results of one schedule (the rung table says which)
    assert [(r.bracket, r.rung, r.schedules) for r in result.rungs] == [
        (0, 0, ["10"]), (0, 1, ["10>20"]), (1, 0, ["20"]), (1, 1, ["20"])]
    # the final ranking compares the step-20 results of both schedules, and says so
    mixed = [d for d in result.decisions if d.kind == MIXED]
    assert len(mixed) == 1 and "step 20" in mixed[0].detail and "10>20, 20" in mixed[0].detail
    replay = await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow, CoordinatorWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None


async def test_a_run_cancelled_while_it_evaluates_keeps_its_evaluation(temporal_env, run_root, queues):
    """The training reached its last step; the cancel lands while the evaluation waits for a worker (no
    orchestration activity worker runs until then): the run evaluates anyway and completes with its metrics,
    saying so, instead of ending cancelled without them."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.worker import Worker

    from workflows.train_eval import TrainEvalWorkflow

    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=10"))
    run.queues = queues
    run.snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    client = temporal_env.client
    async with Worker(client, task_queue=queues.orchestration, workflows=[TrainEvalWorkflow]), \
            running_workers(client, queues, serve="training"):
        handle = await client.start_workflow(TrainEvalWorkflow.run, run, id=f"cancel-eval-{queues.training}",
                                             task_queue=queues.orchestration)
        for _ in range(3000):
            if (await handle.query(TrainEvalWorkflow.status)).stage == "evaluate":
                break
            await asyncio.sleep(0.1)
        await handle.cancel()
        for _ in range(600):  # the cancelled evaluation is scheduled again (or, before the fix, the run ended)
            events = (await handle.fetch_history()).events
            scheduled = [e for e in events if e.HasField("activity_task_scheduled_event_attributes")
                         and e.activity_task_scheduled_event_attributes.activity_type.name == "evaluate"]
            if len(scheduled) == 2 or (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                break
            await asyncio.sleep(0.1)
    async with running_workers(client, queues, serve="orchestration"):
        result = await handle.result()
        history = await handle.fetch_history()
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert result.train.global_step == 10 and "accuracy" in result.metrics
    assert "after the training's last step" in result.note
    replay = await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow, CoordinatorWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None
