"""`train-tune export` / `predict` find a model through Temporal: a coordinator stands for its best job
(by test accuracy), a ladder sweep for its best trial (its parameters, its checkpoint, the snapshot from
the sweep's history); both with real bert_tiny training on a local server, exported and loaded back."""

from __future__ import annotations

from runner.coordinate import start_coordinator
from runner.export import locate
from runner.worker import running_workers
from tests.workflows.test_coordinator import jobs_for
from tests.workflows.test_ladder_sweep import small_sweep
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.runs import CoordinatorStatus
from workflows.payloads.sweep import LadderSweepResult

SHORT = ("trainer.max_steps=10", "trainer.checkpoint_every_n_steps=5", "trainer.val_every_n_steps=5",
         "dataset.max_samples=100")


async def test_a_coordinator_exports_its_best_job_and_a_sweep_its_best_trial(temporal_env, run_root, queues,
                                                                            tmp_path):
    from transformers import AutoModelForSequenceClassification

    from activities.export import export_model, folder_labeller

    client = temporal_env.client
    jobs = jobs_for(run_root, queues, ("optim.lr=1e-5",), ("optim.lr=3e-3",), common=SHORT)
    sweep = small_sweep(run_root, queues, [5, 10], 2, *SHORT)
    async with running_workers(client, queues, max_concurrent_training=2):
        coordinator = await start_coordinator(client, "export", jobs, 2, queues, "")
        status: CoordinatorStatus = await coordinator.result()
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"export-sweep-{queues.training}",
                                             task_queue=queues.orchestration)
        swept: LadderSweepResult = await handle.result()

    best_job = max(status.jobs, key=lambda j: (j.metrics["accuracy"], -j.index))
    run = await locate(client, coordinator.id)
    assert run.workflow_id == best_job.workflow_id and run.checkpoint == best_job.best_checkpoint
    assert run.chosen_from == f"best job {best_job.index} of {coordinator.id}"
    assert run.snapshot.label_names == ["business", "entertainment", "politics", "sports", "tech"]

    trial = next(t for t in swept.trials if t.number == swept.best_trial)
    found = await locate(client, handle.id)
    assert found.checkpoint == trial.checkpoint and found.chosen_from == f"best trial {trial.number} of {handle.id}"
    assert found.model == sweep.base.model and found.snapshot.label_names == run.snapshot.label_names
    folder = export_model(found.model, found.snapshot, found.checkpoint, tmp_path / "sweep-model",
                          {"workflow_id": handle.id})
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    assert model.config.id2label[3] == "sports"
    labels = [label for label, _ in folder_labeller(folder).label(["The striker scored twice."] * 3, 2)]
    assert len(labels) == 3 and len(set(labels)) == 1 and labels[0] in run.snapshot.label_names
