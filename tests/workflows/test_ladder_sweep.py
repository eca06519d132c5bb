"""LadderSweepWorkflow with real bert_tiny training: 9 trials, eta 3, rungs of steps. Promoted trials
resume from their rung checkpoint, and the steps trained add up to the ladder's budget, not trials x max."""

from __future__ import annotations

from temporalio.service import RPCError
from temporalio.worker import Replayer

from runner.resolve import resolve_run
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import ParamSpec, SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult
from workflows.train_eval import TrainEvalWorkflow

RUNGS = [10, 30, 90]


async def test_nine_trials_eta_three(temporal_env, run_root, queues):
    base, _ = resolve_run(compose_config(
        *SMALL_RUN, f"run_root={run_root}", "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10",
    ))
    base.queues = queues
    space = [ParamSpec(key="optim.lr", type="float", low=1e-4, high=3e-3, log=True),
             ParamSpec(key="optim.warmup_ratio", type="categorical", choices=[0.0, 0.1])]
    sweep = LadderSweepInput(name="sha", base=base, space=space, sampler=SamplerSpec(name="random", seed=7),
                             n_trials=9, rungs=RUNGS, eta=3, direction="minimize", parallelism=2)
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"sha-{queues.training}",
                                             task_queue=queues.orchestration)
        result: LadderSweepResult = await handle.result()
        log = await handle.query(LadderSweepWorkflow.decision_log)

    for trial in result.trials:  # parameters arrive with their types and inside the space
        assert isinstance(trial.params["optim.lr"], float) and 1e-4 <= trial.params["optim.lr"] <= 3e-3
        assert trial.params["optim.warmup_ratio"] in (0.0, 0.1)
    assert len({t.params["optim.lr"] for t in result.trials}) == 9
    by_rung = [[t for t in result.trials if t.rung >= k] for k in range(3)]
    assert [len(trials) for trials in by_rung] == [9, 3, 1]
    assert [t.state for t in result.trials].count("completed") == 1
    assert [t.state for t in result.trials].count("stopped") == 8
    winner = by_rung[2][0]
    assert result.best_trial == winner.number
    # promoted trials resumed from their rung checkpoint: global step starts at the rung boundary
    assert winner.resumed_from_steps == [0, 10, 30]
    assert all(t.resumed_from_steps == [0, 10] for t in by_rung[1] if t is not winner)
    # total trained steps equal the ladder's budget: 9 x 10 + 3 x 20 + 1 x 60, not 9 x 90
    assert result.total_steps == 9 * 10 + 3 * 20 + 1 * 60
    # promotion kept the best third at each rung (minimising the validation loss)
    rung0 = sorted(result.trials, key=lambda t: (t.metrics[0], t.number))
    assert {t.number for t in rung0[:3]} == {t.number for t in by_rung[1]}
    kinds = [d.kind for d in log]
    assert kinds.count("propose") == 9 and kinds.count("rung_result") == 13
    assert kinds.count("promote") == 4 and kinds.count("stop") == 8

    # the recorded decisions replay exactly against the workflow code
    history = await handle.fetch_history()
    replay = await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow, CoordinatorWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None


def small_sweep(run_root, queues, rungs, n_trials, *overrides) -> LadderSweepInput:
    base, _ = resolve_run(compose_config(
        *SMALL_RUN, f"run_root={run_root}", "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10",
        "trainer.progress_interval_s=0.2", *overrides,
    ))
    base.queues = queues
    return LadderSweepInput(
        name="signals", base=base, sampler=SamplerSpec(name="random", seed=1), n_trials=n_trials, rungs=rungs,
        eta=2, space=[ParamSpec(key="optim.lr", type="float", low=1e-4, high=3e-3, log=True)], parallelism=2,
    )


async def started_paused(client, sweep, workflow_id):
    """Start with the pause signal in the first workflow task (signal-with-start): nothing may train."""
    import asyncio

    handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=workflow_id, start_signal="pause",
                                         task_queue=sweep.base.queues.orchestration)
    await asyncio.sleep(2)
    assert not await handle.query(LadderSweepWorkflow.trials)
    return handle


async def wait_for(handle, predicate, what: str, timeout_s: float = 300):
    import asyncio

    for _ in range(int(timeout_s * 10)):
        trials = await handle.query(LadderSweepWorkflow.trials)
        if predicate(trials):
            return trials
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_pause_holds_then_stop_trial_then_resume(temporal_env, run_root, queues):
    sweep = small_sweep(run_root, queues, [10, 20], 4)
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await started_paused(client, sweep, f"pause-{queues.training}")
        await handle.signal(LadderSweepWorkflow.resume)
        await wait_for(handle, lambda ts: any(t.metrics for t in ts), "a rung result")
        await handle.signal(LadderSweepWorkflow.pause)
        held = await wait_for(handle, lambda ts: all(t.state != "running" for t in ts), "running segments to end")
        import asyncio

        await asyncio.sleep(2)  # paused: nothing new starts
        assert [t.steps_trained for t in await handle.query(LadderSweepWorkflow.trials)] == \
            [t.steps_trained for t in held]
        waiting = [t.number for t in held if t.state in ("waiting", "promoted")]
        assert waiting, [t.state for t in held]  # rung 0 cannot close while trials are missing or held
        victim = waiting[0]
        await handle.signal(LadderSweepWorkflow.stop_trial, victim)
        await handle.signal(LadderSweepWorkflow.resume)
        result: LadderSweepResult = await handle.result()
    states = {t.number: t for t in result.trials}
    assert len(states) == 4 and all(t.rung >= 0 for t in states.values())
    assert states[victim].state == "stopped" and states[victim].rung == 0
    # the best 2 of 4 (eta 2) at rung 0 go on, except the stopped one
    rung0 = sorted(states.values(), key=lambda t: (t.metrics[0], t.number))
    promoted = {t.number for t in rung0[:2]} - {victim}
    assert {t.number for t in states.values() if t.rung == 1} == promoted
    assert result.total_steps == 4 * 10 + 10 * len(promoted)
    kinds = [d.kind for d in result.decisions]
    assert kinds.index("pause") < kinds.index("resume")
    assert kinds.index("stop") < len(kinds) - 1 - kinds[::-1].index("resume")


async def test_stop_while_paused_starts_nothing_more(temporal_env, run_root, queues):
    sweep = small_sweep(run_root, queues, [10, 20], 3)
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await started_paused(client, sweep, f"stop-paused-{queues.training}")
        await handle.signal(LadderSweepWorkflow.stop)
        try:
            await handle.signal(LadderSweepWorkflow.resume)
        except RPCError as error:  # the stop alone may have ended the sweep already (nothing was running)
            assert "already completed" in str(error), error
        result: LadderSweepResult = await handle.result()
    assert result.trials == [] and result.total_steps == 0 and result.best_trial == -1
    kinds = [d.kind for d in result.decisions]
    assert kinds[-2:] == ["stop_sweep", "resume"] or kinds[-1] == "stop_sweep", kinds


async def test_extend_adds_a_rung_that_resumes_completed_trials_and_refuses_bad_requests(
    temporal_env, run_root, queues
):
    import pytest
    from temporalio.client import WorkflowUpdateFailedError

    from workflows.payloads.sweep import ExtendRequest

    sweep = small_sweep(run_root, queues, [10], 3)
    sweep.parallelism = 1
    sweep.max_trials = 6  # as if the runner had estimated that 6 trials fill a payload
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=1):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"extend-{queues.training}",
                                             task_queue=queues.orchestration)
        await wait_for(handle, lambda ts: any(t.metrics for t in ts), "a rung result")
        await handle.signal(LadderSweepWorkflow.pause)  # a paused sweep stays open once its work is done
        await wait_for(handle, lambda ts: len(ts) == 3 and all(t.state == "completed" for t in ts)
                       or all(t.state != "running" for t in ts), "trials to settle")
        for bad, message in ((ExtendRequest(rungs=[10]), "above the current top rung"),
                             (ExtendRequest(trials=-1), "must be >= 0"), (ExtendRequest(), "needs trials"),
                             (ExtendRequest(trials=4), "at most 6 trials in one Temporal payload (3 planned already)")):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(LadderSweepWorkflow.extend, bad)
            assert message in str(refused.value.cause)
        answer = await handle.execute_update(LadderSweepWorkflow.extend, ExtendRequest(trials=3, rungs=[20]))
        assert "3 trials" in answer and "[20" in answer
        await handle.signal(LadderSweepWorkflow.resume)
        result: LadderSweepResult = await handle.result()
    assert len(result.trials) == 6 and {t.bracket for t in result.trials} == {0, 1}
    top = [t for t in result.trials if t.rung == 1]
    assert len(top) == 2  # the best 1 of 3 in each bracket (eta 2) reached the new rung
    assert all(t.resumed_from_steps == [0, 10] and t.rung_steps == [10, 20] for t in top)
    assert result.total_steps == 6 * 10 + 2 * 10
    assert sum(d.kind == "extend" for d in result.decisions) == 1


