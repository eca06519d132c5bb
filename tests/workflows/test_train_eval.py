"""TrainEvalWorkflow on a real local Temporal server with the real activities on small real data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from runner.resolve import resolve_run
from runner.run_memo import full_memo
from runner.submit import console, print_result, start_run, write_result
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.runs import RunStatus, TrainEvalResult
from workflows.train_eval import TrainEvalWorkflow


async def test_snapshot_train_evaluate_predict(temporal_env, run_root, queues, tmp_path):
    run, plain = resolve_run(compose_config(
        *SMALL_RUN, f"run_root={run_root}", "trainer.progress_interval_s=0.2",
        "predict_texts=['The central bank raised interest rates again.','The team won the league title.']",
    ))
    run.queues = queues
    client = temporal_env.client
    seen: list[RunStatus] = []
    async with running_workers(client, queues):
        handle = await start_run(client, run, plain)
        result_task = asyncio.ensure_future(handle.result())
        while not result_task.done():
            seen.append(await handle.query(TrainEvalWorkflow.status))
            await asyncio.sleep(0.2)
        result: TrainEvalResult = result_task.result()
        final = await handle.query(TrainEvalWorkflow.status)  # queries need a worker polling

    assert result.train.global_step == 30 and result.train.attempt == 1 and result.train.resumed_from_step == 0
    assert Path(result.best_checkpoint).is_file()
    assert Path(result.train.last_checkpoint).name == "step00000030.ckpt"
    assert set(result.metrics) == {"accuracy", "macro_f1", "loss"}
    assert 0.0 <= result.metrics["accuracy"] <= 1.0
    assert result.config_hash == run.config_hash and len(result.dataset_snapshot_id) == 20
    assert [p.text for p in result.predictions] == run.predict_texts
    assert all(p.label in ("business", "entertainment", "politics", "sports", "tech") for p in result.predictions)

    # progress reached the workflow by signal while training ran, and the query showed it
    training = [s for s in seen if s.stage == "train" and s.progress.step > 0]
    assert training, [s.stage for s in seen]
    assert any(s.progress.latest_checkpoint for s in training)
    assert all(a.progress.step <= b.progress.step for a, b in zip(training, training[1:], strict=False))

    assert final.stage == "done" and final.progress.step == 30 and final.metrics == result.metrics

    # per-class scores and the confusion matrix of the test split, in the snapshot's label order
    labels = ["business", "entertainment", "politics", "sports", "tech"]
    assert result.label_names == labels and [c.label for c in result.per_class] == labels
    matrix = result.confusion_matrix
    assert [c.support for c in result.per_class] == [sum(row) for row in matrix]
    assert sum(map(sum, matrix)) > 0
    if result.class_counts:  # the snapshot's rows per split and label (older snapshots have none)
        assert [result.class_counts["test"].get(name, 0) for name in labels] == [sum(row) for row in matrix]
    assert result.metrics["accuracy"] == sum(matrix[i][i] for i in range(5)) / sum(map(sum, matrix))
    present = [c.f1 or 0.0 for c in result.per_class if c.support]
    assert abs(result.metrics["macro_f1"] - sum(present) / len(present)) < 1e-9
    document = json.loads(write_result(tmp_path, handle.id, result).read_text())
    assert document["labels"] == {str(i): name for i, name in enumerate(labels)}
    assert document["confusion_matrix"] == matrix and document["class_counts"] == result.class_counts
    assert [c["label"] for c in document["per_class"]] == labels
    assert set(document["per_class"][0]) == {"label", "precision", "recall", "f1", "support"}
    with console.capture() as captured:
        print_result(handle.id, result)
    printed = captured.get()
    assert "per class (test)" in printed and all(name in printed for name in labels)

    memo = await (await handle.describe()).memo()
    assert memo["config_hash"] == run.config_hash
    assert full_memo(memo)["config"]["model"]["name"] == "bert_tiny"


async def test_config_error_in_an_activity_fails_without_retry(temporal_env, run_root, queues, tmp_path):
    """A data file that changes between resolve and snapshot (now one class) fails once, non-retryable,
    with its reason."""
    from temporalio.client import WorkflowFailureError

    data = tmp_path / "one_class.csv"
    data.write_text("text,label\n" + "".join(f"some text {i},{'spam' if i % 2 else 'ham'}\n" for i in range(30)))
    run, plain = resolve_run(compose_config(
        *SMALL_RUN, "dataset=csv", f"dataset.data_files.train={data}", f"run_root={run_root}",
    ))
    data.write_text("text,label\n" + "".join(f"some text {i},spam\n" for i in range(30)))
    run.queues = queues
    async with running_workers(temporal_env.client, queues):
        handle = await start_run(temporal_env.client, run, plain)
        try:
            await handle.result()
            raise AssertionError("workflow should have failed")
        except WorkflowFailureError as error:
            activity_error = error.cause
            assert "only one class" in str(activity_error.cause)
            assert activity_error.retry_state.name == "NON_RETRYABLE_FAILURE"
