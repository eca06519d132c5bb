"""Chaos: a sweep with a step budget whose worker (training and orchestration) is SIGKILLed inside a segment.
A replacement replays the sweep and resumes the segment from its checkpoint; the budget stops the sweep at
the same trial as without the kill, counting each trial's steps once."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from pathlib import Path

from temporalio.worker import Replayer

from tests.workflows.test_ladder_sweep import small_sweep
from tests.workflows.test_resume import start_worker, stop
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.budget import BudgetSpec
from workflows.payloads.sweep import LadderSweepResult
from workflows.train_eval import TrainEvalWorkflow


async def test_a_budgeted_sweep_survives_a_worker_kill_and_stops_where_it_would_have(temporal_env, run_root, queues,
                                                                                    tmp_path):
    # rungs 20, 40 (eta 2), one segment at a time: the budget of 50 steps is spent by the third trial's rung 0
    sweep = dataclasses.replace(
        small_sweep(run_root, queues, [20, 40], 6, "trainer.max_steps=40", "trainer.heartbeat_timeout_s=3"),
        parallelism=1, budget=BudgetSpec(max_steps_total=50))
    client = temporal_env.client
    address = client.service_client.config.target_host
    log = tmp_path / "workers.log"
    worker = start_worker(address, queues, run_root, log)
    try:
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"budget-kill-{queues.training}",
                                             task_queue=queues.orchestration)
        mid_segment = Path(run_root) / "checkpoints" / handle.id / "trial1" / "step00000010.ckpt.sha256"
        for _ in range(3000):  # the second trial is half way through its first segment
            if mid_segment.exists():
                break
            await asyncio.sleep(0.1)
        assert mid_segment.exists(), log.read_text()[-3000:]
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        worker = start_worker(address, queues, run_root, log)
        result: LadderSweepResult = await asyncio.wait_for(handle.result(), timeout=600)
    finally:
        stop(worker)

    assert [t.steps_trained for t in result.trials] == [20, 20, 20] and result.total_steps == 60
    assert result.trials[1].resumed_from_steps == [10], "the killed segment resumed from its checkpoint"
    assert result.budget_used.spent == "max_steps_total" and result.budget_used.steps == 60
    assert [d.detail for d in result.decisions if d.kind == "stop_sweep"] == [
        "budget spent: max_steps_total: 60 of 50 steps trained; running segments finish, nothing new starts"]
    history = await handle.fetch_history()
    replay = await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow, CoordinatorWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None
