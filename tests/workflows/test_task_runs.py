"""Regression and pair classification through the generic workflows with real bert_tiny training: a
SIGKILLed worker resumes the run mid-way from its checkpoint, and a sha sweep over the learning rate
finishes, ranking trials by the task's own monitored metric."""

from __future__ import annotations

import pytest
from temporalio.worker import Replayer

from runner.resolve import resolve_run
from runner.worker import running_workers
from tests.conftest import compose_config
from tests.workflows.test_resume import killed_mid_run
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import ParamSpec, SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult
from workflows.train_eval import TrainEvalWorkflow

TASKS = {
    "regression": ("dataset=vader_tweets", "trainer.monitor=val_pearson", "trainer.monitor_mode=max"),
    "pair_classification": ("dataset=bbc_headline_pair", "trainer.monitor=val_accuracy", "trainer.monitor_mode=max"),
}
SMALL = ("model=bert_tiny", "dataset.max_samples=300", "dataset.max_length=48", "trainer.batch_size=16",
         "optim.lr=1e-3", "trainer.progress_interval_s=0.2")
MAX_STEPS, EVERY = 160, 20


@pytest.mark.parametrize("task", TASKS)
async def test_sigkilled_worker_resumes_the_task_mid_run(temporal_env, run_root, queues, tmp_path, task):
    run, plain = resolve_run(compose_config(
        *TASKS[task], *SMALL, f"run_root={run_root}", f"trainer.max_steps={MAX_STEPS}",
        f"trainer.checkpoint_every_n_steps={EVERY}", f"trainer.val_every_n_steps={EVERY}",
        "trainer.heartbeat_timeout_s=10",
    ))
    assert run.dataset.task.name == task
    run.queues = queues
    log = tmp_path / "workers.log"  # a loaded machine starts slowly
    result, checkpoint_step, _ = await killed_mid_run(temporal_env.client, run, plain, run_root, log, 2 * EVERY, 900)
    assert result.train.attempt >= 2 and result.train.resumed_from_step >= checkpoint_step, result.train
    assert result.train.global_step == MAX_STEPS
    assert result.task == task
    expected = {"mse", "mae", "pearson", "spearman"} if task == "regression" else {"accuracy", "macro_f1"}
    assert expected <= set(result.metrics)
    assert (result.points != []) == (task == "regression")


@pytest.mark.parametrize("task", TASKS)
async def test_sha_sweep_over_lr_finishes_on_the_task_metric(temporal_env, run_root, queues, task):
    base, _ = resolve_run(compose_config(
        *TASKS[task], *SMALL, f"run_root={run_root}", "trainer.checkpoint_every_n_steps=10",
        "trainer.val_every_n_steps=10",
    ))
    base.queues = queues
    sweep = LadderSweepInput(name="sha", base=base, sampler=SamplerSpec(name="random", seed=3), n_trials=4,
                             rungs=[10, 20], eta=2, direction="maximize", parallelism=2,
                             space=[ParamSpec(key="optim.lr", type="float", low=1e-4, high=3e-3, log=True)])
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"sha-{task}-{queues.training}",
                                             task_queue=queues.orchestration)
        result: LadderSweepResult = await handle.result()
    monitor = TASKS[task][1].split("=")[1]
    assert [len([t for t in result.trials if t.rung >= k]) for k in range(2)] == [4, 2]
    rung0 = sorted(result.trials, key=lambda t: (-t.metrics[0], t.number))  # maximised: the best half goes on
    assert {t.number for t in rung0[:2]} == {t.number for t in result.trials if t.rung >= 1}
    assert all(monitor in t.rung_metrics[0] and t.rung_metrics[0][monitor] == t.metrics[0] for t in result.trials)
    assert result.best_trial in {t.number for t in result.trials if t.rung == 1}
    history = await handle.fetch_history()
    replay = await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow, CoordinatorWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None
