"""`enqueue:` and `warm_start` through the real LadderSweepWorkflow with real bert_tiny training: the enqueued
configs are the first trials; a second sweep warm-started from the first learns from its trials and, where
its trials' configs coincide with the first's, copies their checkpoints instead of training (the same
metrics and promotions, no step trained twice). Both histories replay."""

from __future__ import annotations

import dataclasses

from temporalio.worker import Replayer

from runner.resolve import resolve_run
from runner.warm_start import earlier_trials
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import ParamSpec, SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult
from workflows.payloads.warm_start import WarmStart
from workflows.train_eval import TrainEvalWorkflow

ENQUEUED = [{"optim.lr": 2e-3, "optim.warmup_ratio": 0.0}, {"optim.lr": 1e-4}]


async def test_enqueued_first_then_a_warm_start_reuses_checkpoints(temporal_env, run_root, queues):
    base, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=20",
                                         "trainer.keep_last_checkpoints=3"))
    base.queues = queues
    space = [ParamSpec(key="optim.lr", type="float", low=1e-4, high=3e-3, log=True),
             ParamSpec(key="optim.warmup_ratio", type="categorical", choices=[0.0, 0.1])]
    first = LadderSweepInput(name="enq", base=base, space=space, sampler=SamplerSpec(name="tpe", seed=3), n_trials=3,
                             rungs=[10, 20], eta=3, direction="minimize", parallelism=2, keep_checkpoints=-1,
                             enqueue=ENQUEUED)
    client = temporal_env.client
    replayer = Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow, CoordinatorWorkflow])
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await client.start_workflow(LadderSweepWorkflow.run, first, id=f"enq-{queues.training}",
                                             task_queue=queues.orchestration)
        done: LadderSweepResult = await handle.result()
        assert (await replayer.replay_workflow(await handle.fetch_history())).replay_failure is None

        # the enqueued configs are trials 0 and 1 (1 leaves warmup to the sampler); trial 2 is the sampler's
        trials = {t.number: t for t in done.trials}
        assert trials[0].params == ENQUEUED[0] and trials[1].params["optim.lr"] == 1e-4
        assert [trials[n].proposed_by for n in range(3)] == ["enqueued", "enqueued", "startup_random"]
        proposals = [d.detail for d in done.decisions if d.kind == "propose"]
        assert sum(p.endswith("(enqueued)") for p in proposals) == 2
        assert done.total_steps == 3 * 10 + 10 and done.snapshot_id

        # a second sweep over the same space, warm-started from the first: same proposals (TPE's start-up
        # draws, three earlier trials < n_startup_trials), so every rung's checkpoint is copied
        warm = WarmStart(sweeps=[handle.id])
        warm.trials, warm.skipped, warm.notes = earlier_trials(handle.id, first, done, first, reuse=True)
        second = dataclasses.replace(first, name="warm", warm_start=warm)
        handle2 = await client.start_workflow(LadderSweepWorkflow.run, second, id=f"warm-{queues.training}",
                                              task_queue=queues.orchestration)
        again: LadderSweepResult = await handle2.result()
        assert (await replayer.replay_workflow(await handle2.fetch_history())).replay_failure is None

    kinds = [d.kind for d in again.decisions]
    assert kinds[0] == "warm_start" and f"learns from 3 finished trials of {handle.id}" in again.decisions[0].detail
    reuses = [d for d in again.decisions if d.kind == "reuse"]
    assert len(reuses) == 4, [(d.kind, d.detail) for d in again.decisions]  # 3 trials at rung 0, the best at rung 1
    assert all(f"reused checkpoint from {handle.id} trial {d.trial} at step" in d.detail for d in reuses)
    assert again.total_steps == 0 and "fallback" not in kinds and "reuse_skip" not in kinds
    for old, new in zip(done.trials, again.trials, strict=True):  # same decisions where the configs coincide
        assert (new.params, new.metrics, new.state, new.rung) == (old.params, old.metrics, old.state, old.rung)
        assert new.reused == [f"{handle.id}#{old.number}@{s}" for s in old.rung_steps]
    assert again.best_trial == done.best_trial and again.best_test is not None  # the copied checkpoint scores
