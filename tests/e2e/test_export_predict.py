"""Trained models users can take away: a local model folder with a 2-label head fine-tuned on 3 classes
(the head is replaced, said in the log), `train-tune export` to a Hugging Face folder that
`from_pretrained` and `pipeline` load with the dataset's label names, and `train-tune predict` on the run
id and on the folder (--text, --file csv/jsonl/txt, --out csv/jsonl or stdout); bad input is one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune
from tests.unit.test_mismatched_head import save_two_label_classifier

WORDS = {
    "negative": "awful broken refund terrible waste disappointed",
    "neutral": "arrived okay average fine ordinary expected",
    "positive": "great love excellent perfect happy recommend",
}
NEW_TEXTS = ["I love it, excellent and perfect", "terrible, broken, I want a refund", "it is okay I guess"]


def write_reviews(path: Path, per_class: int = 30) -> None:
    """A 3-class review file with string labels."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        for i in range(per_class):
            for label, words in WORDS.items():
                picked = words.split()
                writer.writerow([f"{picked[i % 6]} {picked[(i + 2) % 6]} item number {i}", label])


def one_line_error(done) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


@pytest.mark.e2e
def test_two_label_folder_fine_tuned_on_three_classes_exported_and_used_to_predict(tmp_path):
    from transformers import AutoModelForSequenceClassification, pipeline

    base = tmp_path / "two-label-model"
    save_two_label_classifier(base)
    write_reviews(tmp_path / "reviews.csv")
    run_root = tmp_path / "runs"
    connection = [f"run_root={run_root}", f"temporal.port={free_port()}", "temporal.ui=false"]
    trained = train_tune(
        "model=minilm_l6", "model.name=two_label", f"model.name_or_path={base}", "dataset=csv",
        f"dataset.data_files.train={tmp_path / 'reviews.csv'}", "dataset.text_column=review",
        "dataset.label_column=sentiment", "dataset.max_length=32", "trainer.batch_size=8", "trainer.max_steps=10",
        "trainer.checkpoint_every_n_steps=5", "trainer.val_every_n_steps=5", "optim.lr=1e-3", *connection,
        cwd=tmp_path,
    )
    output = trained.stdout + trained.stderr
    assert trained.returncode == 0, output[-4000:]
    assert "has a classification head for 2 labels, but the dataset has 3" in output, output[-4000:]
    run_id = json.loads(next(tmp_path.glob("outputs/*/*/result.json")).read_text())["workflow_id"]

    # export: a Hugging Face folder with the dataset's label names
    folder = tmp_path / "exported"
    exported = train_tune("export", run_id, "--out", str(folder), *connection, cwd=tmp_path)
    assert exported.returncode == 0, (exported.stdout + exported.stderr)[-4000:]
    assert f"exported {run_id} to {folder}" in exported.stdout
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    assert model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    assert model.config.label2id == {"negative": 0, "neutral": 1, "positive": 2}
    classify = pipeline("text-classification", model=str(folder))
    answers = classify(NEW_TEXTS)
    assert [a["label"] in WORDS for a in answers] == [True] * 3 and all(0 < a["score"] <= 1 for a in answers)
    assert json.loads((folder / "train_tune_export.json").read_text())["workflow_id"] == run_id
    again = train_tune("export", run_id, "--out", str(folder), *connection, cwd=tmp_path)
    assert "is not empty; pass a new or empty folder" in one_line_error(again) and again.returncode == 2

    # predict with the run id (its checkpoint): --text and --file csv, to CSV
    (tmp_path / "texts.csv").write_text('body,id\n"I love it, excellent\nand perfect",1\nterrible and broken,2\n')
    by_run = train_tune("predict", run_id, "--text", NEW_TEXTS[0], "--file", str(tmp_path / "texts.csv"),
                        "--column", "body", "--out", str(tmp_path / "preds.csv"), "--batch-size", "2", *connection,
                        cwd=tmp_path)
    assert by_run.returncode == 0, (by_run.stdout + by_run.stderr)[-4000:]
    rows = list(csv.DictReader((tmp_path / "preds.csv").open()))
    assert [r["text"] for r in rows] == [NEW_TEXTS[0], "I love it, excellent\nand perfect", "terrible and broken"]
    assert all(r["label"] in WORDS and 0 < float(r["score"]) <= 1 for r in rows)

    # predict with the exported folder (no server): --file jsonl to JSONL, --file txt to stdout
    (tmp_path / "texts.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in NEW_TEXTS))
    by_folder = train_tune("predict", str(folder), "--file", str(tmp_path / "texts.jsonl"), "--out",
                           str(tmp_path / "preds.jsonl"), cwd=tmp_path)
    assert by_folder.returncode == 0, (by_folder.stdout + by_folder.stderr)[-4000:]
    predicted = [json.loads(line) for line in (tmp_path / "preds.jsonl").read_text().splitlines()]
    assert [p["text"] for p in predicted] == NEW_TEXTS
    assert [p["label"] for p in predicted] == [a["label"] for a in answers], "the folder is the pipeline's model"
    assert [p["score"] for p in predicted] == pytest.approx([a["score"] for a in answers], abs=1e-4)
    assert predicted[0]["label"] == rows[0]["label"] and predicted[0]["score"] == pytest.approx(
        float(rows[0]["score"]), abs=1e-4), "the export predicts as the run's checkpoint does"
    (tmp_path / "texts.txt").write_text("\n".join(NEW_TEXTS) + "\n\n")
    printed = train_tune("predict", str(folder), "--file", str(tmp_path / "texts.txt"), cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr[-4000:]
    lines = [line.split("\t") for line in printed.stdout.splitlines()]
    assert [(label, text) for label, _, text in lines] == [(p["label"], p["text"]) for p in predicted]

    # an id the server does not know: exit code 3, one line
    unknown = train_tune("predict", "no-such-run", "--text", "hi", *connection, cwd=tmp_path)
    assert unknown.returncode == 3 and "no run 'no-such-run'" in one_line_error(unknown)


@pytest.mark.parametrize("args, expected", [
    (["predict", "some-run", "--file", "missing.csv"], "--file is 'missing.csv', but no such file exists"),
    (["export", "some-run", "--out", "model"], "no run 'some-run'"),
])
def test_not_found_is_one_line_exit_code_3_and_starts_no_server(tmp_path, args, expected):
    done = train_tune(*args, f"run_root={tmp_path / 'runs'}", cwd=tmp_path, timeout=300)
    assert done.returncode == 3, done.stdout + done.stderr
    assert expected in one_line_error(done)
    assert not (tmp_path / "runs" / "temporal.sqlite").exists()
