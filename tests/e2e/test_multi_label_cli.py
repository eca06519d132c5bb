"""task=multi_label as a user runs it: `train-tune experiment=multi_label` (shortened) trains, evaluates and
prints the per-label table; result.json holds the multi-label metrics and threshold; `train-tune export`
writes a folder that `transformers.pipeline(..., top_k=None, function_to_apply="sigmoid")` loads and runs
on real text; `train-tune predict` labels texts with the labels above the threshold; `results --html`
draws F1 per label; bad input is one line before anything starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune
from tests.e2e.test_export_predict import one_line_error

LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
TEXTS = ["Thank you so much, this made my day!", "I am so angry about this, it is disgusting."]


def predicted_labels(label: str) -> list[str]:
    return [] if label == "(none)" else label.split(";")


@pytest.mark.e2e
def test_multi_label_run_export_pipeline_predict_and_report(tmp_path):
    from transformers import AutoConfig, pipeline

    run_root = tmp_path / "runs"
    connection = [f"run_root={run_root}", f"temporal.port={free_port()}", "temporal.ui=false"]
    trained = train_tune("experiment=multi_label", "model=bert_tiny", "optim.lr=1e-3", "dataset.max_samples=600",
                         "dataset.max_length=32", "trainer.max_steps=30", "trainer.batch_size=16",
                         "trainer.checkpoint_every_n_steps=15",
                         "trainer.val_every_n_steps=15", *connection, cwd=tmp_path, timeout=900)
    output = trained.stdout + trained.stderr
    assert trained.returncode == 0, output[-4000:]
    assert "micro_f1" in output and "subset_accuracy" in output and "per class (test)" in output
    result = json.loads(next(tmp_path.glob("outputs/*/*/result.json")).read_text())
    assert result["task"] == "multi_label" and list(result["labels"].values()) == LABELS
    assert {"micro_f1", "macro_f1", "subset_accuracy", "loss"} <= set(result["metrics"])
    assert result["metrics"]["threshold"] == 0.5
    assert [c["label"] for c in result["per_class"]] == LABELS
    assert [c["support"] for c in result["per_class"]] == [94, 10, 9, 232, 207, 42, 55]  # the test file's rows per label
    assert result["class_counts"]["test"]["joy"] == 232
    assert all(set(predicted_labels(p["label"])) <= set(LABELS) for p in result["predictions"])
    run_id = result["workflow_id"]

    folder = tmp_path / "exported"
    exported = train_tune("export", run_id, "--out", str(folder), *connection, cwd=tmp_path)
    assert exported.returncode == 0, (exported.stdout + exported.stderr)[-4000:]
    assert AutoConfig.from_pretrained(folder).problem_type == "multi_label_classification"
    classify = pipeline("text-classification", model=str(folder), top_k=None, function_to_apply="sigmoid")
    scores = classify(TEXTS)
    assert [sorted(s["label"] for s in per_text) for per_text in scores] == [LABELS, LABELS]
    assert all(0 < s["score"] < 1 for per_text in scores for s in per_text)

    by_folder = train_tune("predict", str(folder), "--text", TEXTS[0], "--text", TEXTS[1],
                           "--out", str(tmp_path / "preds.jsonl"), cwd=tmp_path)
    assert by_folder.returncode == 0, (by_folder.stdout + by_folder.stderr)[-4000:]
    for line, per_text in zip((tmp_path / "preds.jsonl").read_text().splitlines(), scores, strict=True):
        row = json.loads(line)
        above = {s["label"] for s in per_text if s["score"] > 0.5}
        assert set(predicted_labels(row["label"])) == above, (row, per_text)
        expected = min((s["score"] for s in per_text if s["score"] > 0.5), default=max(s["score"] for s in per_text))
        assert row["score"] == pytest.approx(expected, abs=1e-4)

    report = train_tune("results", run_id, "--html", "--out", str(tmp_path / "report"), *connection, cwd=tmp_path)
    assert report.returncode == 0, (report.stdout + report.stderr)[-4000:]
    page = next(Path(tmp_path / "report").rglob("report.html")).read_text()
    assert "F1 per label (test)" in page and "Per class (test)" in page


@pytest.mark.parametrize("args, expected", [
    (["dataset=goemotions_ekman", "task=sequence_classification"],
     "holds several labels per row (line 1: ['anger', 'sadness']); that is multi-label classification: use "
     "task=multi_label"),
    (["experiment=multi_label", "task.threshold=1.5"], "task.threshold is 1.5, but must be in (0, 1)"),
    (["experiment=multi_label", "trainer.monitor=val_accuracy"], "trainer.monitor is 'val_accuracy', but task "
                                                                "multi_label logs: val_loss, val_micro_f1"),
])
def test_bad_multi_label_input_is_one_line_before_anything_starts(tmp_path, args, expected):
    done = train_tune(*args, f"run_root={tmp_path / 'runs'}", cwd=tmp_path, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected in one_line_error(done)
    assert not (tmp_path / "runs" / "temporal.sqlite").exists()
