"""Regression and pair classification through the command line, as a user runs them: the shipped
experiments' datasets (data/vader_tweets, data/bbc_headline_pair) select their task, a short run reports the
task's own test metrics, `train-tune export` writes a folder that `transformers.pipeline` loads and runs,
and `train-tune predict` labels new inputs (pairs as `first ||| second`)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune
from tests.e2e.test_export_predict import one_line_error

SHORT = ("model=bert_tiny", "dataset.max_samples=300", "dataset.max_length=48", "trainer.batch_size=16",
         "trainer.max_steps=20", "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10", "optim.lr=1e-3")


def run_and_export(tmp_path, *overrides: str):
    connection = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false"]
    trained = train_tune(*overrides, *SHORT, *connection, cwd=tmp_path)
    assert trained.returncode == 0, (trained.stdout + trained.stderr)[-4000:]
    result = json.loads(next(tmp_path.glob("outputs/*/*/result.json")).read_text())
    folder = tmp_path / "exported"
    exported = train_tune("export", result["workflow_id"], "--out", str(folder), *connection, cwd=tmp_path)
    assert exported.returncode == 0, (exported.stdout + exported.stderr)[-4000:]
    return result, folder, connection, trained.stdout


@pytest.mark.e2e
def test_regression_run_reports_its_metrics_and_exports_values_in_label_units(tmp_path):
    from transformers import pipeline

    result, folder, connection, printed = run_and_export(tmp_path, "experiment=regression",
                                                         'predict_texts=["I love this!"]')
    assert result["task"] == "regression"
    assert set(result["metrics"]) == {"loss", "mse", "mae", "pearson", "spearman"}
    assert result["points"] and all(len(point) == 2 for point in result["points"])  # [true, predicted] per test row
    assert result["per_class"] == [] and result["confusion_matrix"] == []
    for name in ("pearson", "spearman", "mse"):
        assert name in printed
    shown = train_tune("results", result["workflow_id"], "--html", "--out", str(tmp_path / "report"), *connection,
                       cwd=tmp_path)
    assert shown.returncode == 0, (shown.stdout + shown.stderr)[-4000:]
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Predicted vs true label (test)" in page and f"<td>{result['metrics']['pearson']:.4f}</td>" in page
    # the export gives values in the label's units (the standardisation is folded into the output layer)
    score = pipeline("text-classification", model=str(folder), function_to_apply="none")("I love this!")[0]["score"]
    assert json.loads((folder / "train_tune_export.json").read_text())["task"] == "regression"
    by_run = result["predictions"][0]["score"]
    assert score == pytest.approx(by_run, abs=1e-3), "the folder predicts what the run predicted"
    by_folder = train_tune("predict", str(folder), "--text", "I love this!", cwd=tmp_path)
    assert by_folder.returncode == 0, by_folder.stdout + by_folder.stderr
    assert float(by_folder.stdout.split("\t")[1]) == pytest.approx(by_run, abs=1e-3), by_folder.stdout


@pytest.mark.e2e
def test_pair_run_predicts_pairs_and_exports_a_pipeline_that_takes_text_pairs(tmp_path):
    from transformers import pipeline

    pair = "Bank profits fall ||| Shares in the bank fell after it reported lower quarterly profits."
    result, folder, connection, _ = run_and_export(tmp_path, "experiment=pairs", f"predict_texts=[{json.dumps(pair)}]")
    assert result["task"] == "pair_classification"
    assert {"accuracy", "macro_f1", "loss"} <= set(result["metrics"])
    assert [c["label"] for c in result["per_class"]] == ["match", "mismatch"]
    assert result["predictions"][0]["label"] in ("match", "mismatch")
    classify = pipeline("text-classification", model=str(folder))
    answer = classify({"text": "Bank profits fall", "text_pair": pair.split("|||")[1].strip()})
    answer = answer[0] if isinstance(answer, list) else answer
    assert answer["label"] == result["predictions"][0]["label"]
    assert answer["score"] == pytest.approx(result["predictions"][0]["score"], abs=1e-3)
    by_run = train_tune("predict", result["workflow_id"], "--text", pair, *connection, cwd=tmp_path)
    assert by_run.returncode == 0 and by_run.stdout.startswith(answer["label"]), by_run.stdout + by_run.stderr
    lonely = train_tune("predict", str(folder), "--text", "no separator here", cwd=tmp_path)
    assert "has no '|||', but a pair classifier labels two texts" in one_line_error(lonely)
    assert lonely.returncode == 2


@pytest.mark.e2e
@pytest.mark.parametrize("overrides, expected", [
    (["dataset=vader_tweets", "task=sequence_classification"],
     "look like a regression target, not classes: use task=regression"),
    (["dataset=bbc_headline_pair", "task=sequence_classification"],
     "dataset.text_pair_column is 'text_pair', but task sequence_classification reads one text"),
    (["dataset=vader_tweets", "trainer.monitor=val_accuracy", "trainer.monitor_mode=max"],
     "trainer.monitor is 'val_accuracy', but task regression logs: val_loss, val_mse"),
])
def test_a_task_that_does_not_fit_the_data_is_one_line_before_any_server(tmp_path, overrides, expected):
    done = train_tune(*overrides, f"run_root={tmp_path / 'runs'}", cwd=tmp_path, timeout=300)
    assert done.returncode == 2 and expected in one_line_error(done)
    assert not (tmp_path / "runs" / "temporal.sqlite").exists()
