"""The other ladders with real bert_tiny training: asynchronous successive halving, Hyperband brackets,
budgets in data fractions, continue-as-new with the trial table carried, and checkpoint pruning."""

from __future__ import annotations

import math
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Replayer

from runner.worker import running_workers
from tests.workflows.test_ladder_sweep import small_sweep
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.sweep import LadderSweepResult


async def run(client, sweep, workflow_id, training=2) -> tuple[LadderSweepResult, object]:
    async with running_workers(client, sweep.base.queues, max_concurrent_training=training):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=workflow_id,
                                             task_queue=sweep.base.queues.orchestration)
        return await handle.result(), handle


async def test_asha_promotes_without_waiting_for_the_rung_to_fill(temporal_env, run_root, queues):
    sweep = small_sweep(run_root, queues, [10, 20, 40], 8, "trainer.max_steps=40")
    sweep.kind = "asha"
    result, handle = await run(temporal_env.client, sweep, f"asha-{queues.training}")
    assert len(result.trials) == 8 and all(t.rung >= 0 for t in result.trials)
    # every promotion was legal when it was made: the trial was in the top floor(n/eta) of the n results
    # its rung had at that moment (replaying the decision log in order)
    seen: dict[int, dict[int, float]] = {}
    first_promotion_before_rung0_filled = False
    for d in result.decisions:
        if d.kind == "rung_result":
            trial = next(t for t in result.trials if t.number == d.trial)
            seen.setdefault(d.rung, {})[d.trial] = trial.metrics[d.rung]
        if d.kind == "promote":
            results = seen[d.rung]
            ranked = sorted(results, key=lambda n: (results[n], n))
            assert d.trial in ranked[: len(results) // sweep.eta], (d, results)
            if d.rung == 0 and len(results) < 8:
                first_promotion_before_rung0_filled = True
    assert first_promotion_before_rung0_filled  # asynchronous: no waiting for all 8
    for t in result.trials:  # promoted trials resumed at their rung boundaries
        assert t.resumed_from_steps == [0, 10, 20][: len(t.rung_steps)]
        assert t.rung_steps == [10, 20, 40][: len(t.rung_steps)]
    assert result.total_steps == sum(t.rung_steps[-1] for t in result.trials)
    assert sum(1 for t in result.trials if t.state == "completed") >= 1
    replay = await Replayer(workflows=[LadderSweepWorkflow]).replay_workflow(await handle.fetch_history())
    assert replay.replay_failure is None


async def test_hyperband_runs_its_brackets_with_the_published_sizes(temporal_env, run_root, queues):
    # min 10, max 30, eta 3: s_max 1; bracket s=1 has 3 trials at [10, 30], bracket s=0 has 2 at [30]
    sweep = small_sweep(run_root, queues, [10, 30], 5)
    sweep.kind, sweep.eta = "hyperband", 3
    result, _ = await run(temporal_env.client, sweep, f"hyperband-{queues.training}")
    rows = [(r.bracket, r.rung, r.budget_steps, r.reported, r.promoted) for r in result.rungs]
    assert rows == [(0, 0, 10, 3, 1), (0, 1, 30, 1, 0), (1, 0, 30, 2, 0)]
    assert [t.bracket for t in result.trials].count(1) == 2
    assert result.total_steps == 3 * 10 + 1 * 20 + 2 * 30
    best = next(t for t in result.trials if t.number == result.best_trial)
    assert best.rung_steps[-1] == 30


async def test_rungs_in_data_fractions_end_with_a_validation_at_the_rung(temporal_env, run_root, queues):
    sweep = small_sweep(run_root, queues, [0.25, 0.5], 2)
    sweep.unit = "fraction"
    result, _ = await run(temporal_env.client, sweep, f"fraction-{queues.training}")
    # 400 training rows / batch 16 = 25 steps per epoch: a quarter is ceil(6.25) = 7 steps, a half 13
    assert sorted({tuple(t.rung_steps) for t in result.trials}) == [(7,), (7, 13)]
    # the rung metrics come from validations at steps 7 and 13 (val_every_n_steps is 10)
    assert not any(math.isnan(m) for t in result.trials for m in t.metrics)


async def test_continue_as_new_carries_the_trial_table(temporal_env, run_root, queues):
    sweep = small_sweep(run_root, queues, [10], 6)
    sweep.max_history_events = 40  # tiny, to force several hand-offs
    client = temporal_env.client
    result, handle = await run(client, sweep, f"can-{queues.training}")
    assert result.runs >= 2
    assert sorted(t.number for t in result.trials) == list(range(6))
    assert all(t.state == "completed" and t.rung_steps == [10] for t in result.trials)
    assert result.total_steps == 60 and len({t.params["optim.lr"] for t in result.trials}) == 6
    runs = [e async for e in client.list_workflows(f"WorkflowId = '{handle.id}'")]
    assert len(runs) == result.runs
    assert sum(e.status == WorkflowExecutionStatus.CONTINUED_AS_NEW for e in runs) == result.runs - 1
    for execution in runs:  # every run's history stays short and replays
        history = await client.get_workflow_handle(handle.id, run_id=execution.run_id).fetch_history()
        assert len(history.events) < 40 + 30
        replay = await Replayer(workflows=[LadderSweepWorkflow]).replay_workflow(history)
        assert replay.replay_failure is None


async def test_demoted_checkpoints_are_pruned_beyond_the_best_k(temporal_env, run_root, queues):
    sweep = small_sweep(run_root, queues, [10, 20], 6)
    sweep.keep_checkpoints = 2
    result, handle = await run(temporal_env.client, sweep, f"prune-{queues.training}")
    folder = Path(sweep.base.run_root) / "checkpoints" / handle.id
    pruned = {t.number for t in result.trials if t.checkpoints_pruned}
    demoted = {t.number for t in result.trials if t.demoted}
    # eta 2: 3 of 6 go on; the 3 that reached the top take the best-2 places, so every demoted one goes
    assert len(demoted) == 3 and pruned == demoted
    for t in result.trials:
        ckpts = list((folder / f"trial{t.number}").glob("*.ckpt"))
        assert bool(ckpts) != (t.number in pruned), t
        assert list((folder / f"trial{t.number}" / "logs").glob("*/metrics.csv"))  # curves stay
    assert sum(d.kind == "prune" for d in result.decisions) == len(pruned)
