"""A sweep's budget in LadderSweepWorkflow with real bert_tiny training: a step budget stops a sha sweep
early (across continue-as-new hand-offs), with the decision that says why, the best trial so far reported
and its history replaying; a wall-time budget's timer ends a paused sweep."""

from __future__ import annotations

import dataclasses

from temporalio.api.enums.v1 import EventType
from temporalio.worker import Replayer

from runner.worker import running_workers
from tests.workflows.test_ladder_sweep import small_sweep, started_paused
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.budget import BudgetSpec, BudgetUsed
from workflows.payloads.sweep import LadderSweepResult
from workflows.train_eval import TrainEvalWorkflow


async def test_a_step_budget_stops_a_sha_sweep_early_and_says_why(temporal_env, run_root, queues):
    # 6 trials at rungs 10, 20 (eta 2) plan 6 x 10 + 3 x 10 = 90 steps; the budget is spent at the third trial
    sweep = dataclasses.replace(small_sweep(run_root, queues, [10, 20], 6), parallelism=1, max_history_events=25,
                                budget=BudgetSpec(max_steps_total=25))
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=1):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"budget-{queues.training}",
                                             task_queue=queues.orchestration)
        result: LadderSweepResult = await handle.result()
        queried: BudgetUsed = await handle.query(LadderSweepWorkflow.budget_used)

    assert result.runs > 1, "the sweep continued as new at least once: the budget counts across hand-offs"
    assert len(result.trials) == 3 and all(t.steps_trained == 10 for t in result.trials)  # nothing started after
    assert result.total_steps == 30 and result.stopped
    assert {t.state for t in result.trials} == {"stopped"} and "promote" not in [d.kind for d in result.decisions]
    used = result.budget_used
    assert result.budget == sweep.budget and used.spent == "max_steps_total" and used.steps == 30
    assert used.detail == "max_steps_total: 30 of 25 steps trained"
    stops = [d.detail for d in result.decisions if d.kind == "stop_sweep"]
    assert stops == ["budget spent: max_steps_total: 30 of 25 steps trained; running segments finish, nothing new "
                     "starts"]
    assert used.started_at > 0 and used.wall_time_s > 0 and used.gpu_seconds == 0  # CPU segments: no GPU hours
    assert queried.steps == 30 and queried.spent == "max_steps_total"
    best = min(result.trials, key=lambda t: t.metrics[0])
    assert result.best_trial == best.number and result.best_test is not None  # the best so far, tested

    history = await handle.fetch_history()
    replay = await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow, CoordinatorWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None


async def test_a_wall_time_budget_ends_a_paused_sweep_at_its_timer(temporal_env, run_root, queues):
    sweep = dataclasses.replace(small_sweep(run_root, queues, [10, 20], 3), budget=BudgetSpec(max_wall_time_s=15))
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await started_paused(client, sweep, f"wall-{queues.training}")
        result: LadderSweepResult = await handle.result()  # paused: only the budget's timer can end it
    assert result.trials == [] and result.best_trial == -1 and result.stopped
    assert result.budget_used.spent == "max_wall_time" and result.budget_used.wall_time_s >= 15
    assert [d.detail for d in result.decisions if d.kind == "stop_sweep"][0].startswith(
        "budget spent: max_wall_time: 15s of 15s since the sweep started")
    history = await handle.fetch_history()
    assert any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in history.events)
