"""task=token_classification through the generic workflows with real training (bert_tiny on WNUT 2017,
validation and test carved out of its training file by entity type): a worker SIGKILLed mid-run is
replaced and the run finishes from its last checkpoint with every entity metric; a successive-halving
sweep over the learning rate, monitoring entity F1, runs its ladder to the end."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runner.resolve import resolve_run
from runner.worker import running_workers
from tests.conftest import compose_config
from tests.workflows.test_resume import killed_mid_run
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import TOKEN_METRICS, ParamSpec, SamplerSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult

NER_RUN = (
    "model=bert_tiny", "dataset=wnut17", "task=token_classification",
    "dataset.data_files.validation=", "dataset.data_files.test=",  # carved out of train, by entity type
    "dataset.validation_fraction=0.05", "dataset.test_fraction=0.05",
    "dataset.max_samples=600", "dataset.max_length=48",
    "trainer.batch_size=16", "optim.lr=3e-3", "trainer.monitor=val_f1", "trainer.monitor_mode=max",
)
"""Small but real: bert_tiny on 600 WNUT 2017 sentences, 170 validation and test sentences each."""
MAX_STEPS = 120
EVERY = 20
DATA = f"data_dirs=[{Path(__file__).resolve().parents[2] / 'data' / 'wnut17'}]"
"""A worker process reads only what its confinement allows (`activities.confinement`)."""


async def test_sigkilled_ner_worker_resumes_and_reports_entity_metrics(temporal_env, run_root, queues, tmp_path):
    run, plain = resolve_run(compose_config(
        *NER_RUN, f"run_root={run_root}", f"trainer.max_steps={MAX_STEPS}", f"trainer.checkpoint_every_n_steps={EVERY}",
        f"trainer.val_every_n_steps={EVERY}", "trainer.heartbeat_timeout_s=10", "trainer.progress_interval_s=0.2",
    ))
    run.queues = queues
    log = tmp_path / "workers.log"
    result, checkpoint_step, _ = await killed_mid_run(temporal_env.client, run, plain, run_root, log, 2 * EVERY, 900,
                                                      DATA)

    trained = result.train
    assert trained.attempt >= 2 and checkpoint_step <= trained.resumed_from_step < MAX_STEPS, trained
    assert trained.global_step == MAX_STEPS
    assert set(TOKEN_METRICS) <= set(trained.val_metrics), trained.val_metrics
    assert set(result.metrics) == {"f1", "precision", "recall", "token_accuracy", "loss"}, result.metrics
    assert 0.5 < result.metrics["token_accuracy"] <= 1.0 and 0.0 <= result.metrics["f1"] <= 1.0
    types = {c.label for c in result.per_class}
    assert types <= {"person", "location", "group", "creative-work", "corporation", "product"}
    assert sum(c.support for c in result.per_class) > 20  # entities of the carved test split, by type
    assert "person" in types and result.confusion_matrix == []
    assert "O" in result.label_names and "B-person" in result.label_names


async def test_sha_sweep_over_the_learning_rate_finishes(temporal_env, run_root, queues):
    base, _ = resolve_run(compose_config(
        *NER_RUN, f"run_root={run_root}", "trainer.max_steps=40", "trainer.checkpoint_every_n_steps=10",
        "trainer.val_every_n_steps=10", "trainer.progress_interval_s=0.2",
    ))
    base.queues = queues
    sweep = LadderSweepInput(
        name="ner-sha", base=base, sampler=SamplerSpec(name="random", seed=3), n_trials=4, rungs=[10, 20], eta=2,
        space=[ParamSpec(key="optim.lr", type="float", low=1e-4, high=5e-3, log=True)], parallelism=2,
        direction="maximize",
    )
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"ner-sha-{queues.training}",
                                             task_queue=queues.orchestration)
        result: LadderSweepResult = await asyncio.wait_for(handle.result(), timeout=900)
    assert len(result.trials) == 4
    assert [len([t for t in result.trials if t.rung >= k]) for k in range(2)] == [4, 2]
    assert sorted(t.state for t in result.trials) == ["completed", "completed", "stopped", "stopped"]
    assert all(0.0 <= m <= 1.0 for t in result.trials for m in t.metrics)  # val_f1 at each rung
    assert result.best_trial in {t.number for t in result.trials if t.rung == 1}
