"""task=multi_label through the generic workflows with real bert_tiny training on goemotions_ekman: a worker
SIGKILLed mid-run is resumed from its last checkpoint by the next one, and a successive-halving sweep over
the learning rate finishes with every trial's multi-label validation metrics recorded at each rung."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runner.resolve import resolve_run
from runner.worker import running_workers
from tests.conftest import compose_config
from tests.workflows.test_resume import killed_mid_run
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import MULTI_LABEL_METRICS, ParamSpec, SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult

SMALL_MULTI_LABEL = (
    "experiment=multi_label",
    "model=bert_tiny",  # the experiment's pretrained MiniLM is slower; these tests check the path, not the score
    "optim.lr=1e-3",
    "dataset.max_samples=400",
    "dataset.max_length=32",
    "trainer.batch_size=16",
    "trainer.eval_batch_size=128",
    "predict_texts=[]",
)
MAX_STEPS = 240
EVERY = 20
DATA = f"data_dirs=[{Path(__file__).resolve().parents[2] / 'data'}]"
"""A worker of its own reads only its run_root, data_dirs and installed packages: the repo's data/ is allowed."""
LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


async def test_sigkilled_multi_label_worker_resumes_from_its_last_checkpoint(temporal_env, run_root, queues, tmp_path):
    run, plain = resolve_run(compose_config(
        *SMALL_MULTI_LABEL, f"run_root={run_root}", f"trainer.max_steps={MAX_STEPS}",
        f"trainer.checkpoint_every_n_steps={EVERY}", f"trainer.val_every_n_steps={EVERY}",
        "trainer.heartbeat_timeout_s=10", "trainer.progress_interval_s=0.2",
    ))
    run.queues = queues
    log = tmp_path / "workers.log"
    result, checkpoint_step, handle = await killed_mid_run(temporal_env.client, run, plain, run_root, log, 2 * EVERY,
                                                           900, DATA)

    trained = result.train
    assert trained.attempt >= 2 and trained.resumed_from_step >= checkpoint_step, (trained, checkpoint_step)
    assert trained.global_step == MAX_STEPS and trained.steps_this_attempt == MAX_STEPS - trained.resumed_from_step
    assert result.task == "multi_label" and result.label_names == LABELS
    assert set(result.metrics) >= {"micro_f1", "macro_f1", "subset_accuracy", "loss"} and result.metrics["threshold"] == 0.5
    assert [c.label for c in result.per_class] == LABELS and result.confusion_matrix == []
    assert sum(c.support for c in result.per_class) > 600  # 600 test rows, 8% of them with two labels or more
    assert set(trained.val_metrics) >= set(MULTI_LABEL_METRICS)
    # the resumed attempt logged multi-label validation metrics from the resume step on
    metrics = Path(run_root) / "checkpoints" / handle.id / "logs" / f"attempt{trained.attempt}" / "metrics.csv"
    header, *rows = metrics.read_text().splitlines()
    assert {"val_micro_f1", "val_macro_f1", "val_subset_accuracy"} <= set(header.split(","))
    assert min(int(row.split(",")[1]) for row in rows if row.split(",")[1]) >= trained.resumed_from_step


async def test_a_successive_halving_sweep_over_lr_finishes(temporal_env, run_root, queues):
    base, _ = resolve_run(compose_config(
        *SMALL_MULTI_LABEL, f"run_root={run_root}", "trainer.checkpoint_every_n_steps=10",
        "trainer.val_every_n_steps=10", "trainer.max_steps=20",
    ))
    base.queues = queues
    sweep = LadderSweepInput(
        name="multi-label-sha", base=base, sampler=SamplerSpec(name="random", seed=3), n_trials=4, rungs=[10, 20],
        eta=2, direction="maximize", parallelism=2,
        space=[ParamSpec(key="optim.lr", type="float", low=3e-4, high=3e-3, log=True)],
    )
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"sha-ml-{queues.training}",
                                             task_queue=queues.orchestration)
        result: LadderSweepResult = await asyncio.wait_for(handle.result(), timeout=900)
    assert [t.state for t in result.trials].count("completed") == 2
    assert sorted(t.rung for t in result.trials) == [0, 0, 1, 1]
    assert result.best_trial in {t.number for t in result.trials if t.rung == 1}
    for trial in result.trials:  # the monitor (val_micro_f1) and every multi-label metric at each rung
        assert all(0.0 <= m <= 1.0 for m in trial.metrics), trial
        assert all(set(MULTI_LABEL_METRICS) <= set(rung) for rung in trial.rung_metrics), trial.rung_metrics
