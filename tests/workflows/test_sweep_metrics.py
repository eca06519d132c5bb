"""A sweep reports the metrics users choose by: every validation metric at each rung of each trial
(loss, accuracy, macro-F1), and its best trial's test metrics, scored from that trial's best checkpoint as
a single run's are. Real bert_tiny trainings, shrunk."""

from __future__ import annotations

from temporalio.worker import Replayer

from activities.evaluate import run_evaluation
from activities.snapshot import build_snapshot
from runner.worker import running_workers
from tests.workflows.test_ladder_sweep import small_sweep
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.messages import EvaluateRequest, SnapshotRequest
from workflows.payloads.sweep import LadderSweepResult
from workflows.search_params import apply_params
from workflows.sweep_metrics import TEST_PATCH
from workflows.train_eval import TrainEvalWorkflow

VALIDATION = ["val_accuracy", "val_loss", "val_macro_f1"]


async def test_records_carry_every_metric_per_rung_and_the_winners_test_metrics(temporal_env, run_root, queues):
    sweep = small_sweep(run_root, queues, [10, 20], 4)
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"metrics-{queues.training}",
                                             task_queue=queues.orchestration)
        result: LadderSweepResult = await handle.result()

    reached = [t for t in result.trials if t.metrics]
    assert len(reached) == 4 and any(len(t.metrics) == 2 for t in reached)
    for trial in reached:
        assert len(trial.rung_metrics) == len(trial.metrics) == len(trial.rung_steps)
        for value, metrics in zip(trial.metrics, trial.rung_metrics, strict=False):
            assert sorted(metrics) == VALIDATION
            assert metrics["val_loss"] == value  # the monitored metric is one of them
            assert 0.0 <= metrics["val_accuracy"] <= 1.0 and 0.0 <= metrics["val_macro_f1"] <= 1.0

    winner = next(t for t in result.trials if t.number == result.best_trial)
    assert winner.best_checkpoint.startswith(winner.checkpoint_dir + "/")
    test = result.best_test
    assert test is not None and test.split == "test", result.best_test_note
    assert sorted(test.metrics) == ["accuracy", "loss", "macro_f1"] and len(test.per_class) == 5
    assert f"trial {winner.number}'s best checkpoint" in result.best_test_note
    # what a single run of the winner would report: its best checkpoint scored on the test split
    run = apply_params(sweep.base, winner.params)
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))  # the sweep's (reused)
    again = run_evaluation(EvaluateRequest(model=run.model, snapshot=snapshot, checkpoint=winner.best_checkpoint,
                                           batch_size=run.trainer.eval_batch_size))
    assert again.metrics == test.metrics and again.num_examples == test.num_examples

    # the evaluation is behind its patch marker, and the history replays
    history = await handle.fetch_history()
    assert any(e.HasField("marker_recorded_event_attributes") and TEST_PATCH in str(e) for e in history.events)
    replay = await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None
