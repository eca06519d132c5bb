"""task=token_classification from the command line: a real run (bert_tiny on a small made-up NER file whose
validation and test are carved out of it) prints entity metrics, the per-type table and its predictions as
entities with character spans; `train-tune export` writes a folder that transformers' token-classification
pipeline loads and runs on new text (trained with task.label_all_tokens, so the "simple" aggregation
groups split words right); `train-tune predict` tags text with the run and with the folder."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from activities.ner.predict import describe
from tests.conftest import free_port
from tests.e2e.test_cli import train_tune

FIRST = ["Alice", "Bruno", "Chen", "Dara", "Emil", "Farah"]
LAST = ["Brown", "Costa", "Li", "Okafor", "Novak", "Haddad"]
CITIES = ["Paris", "Lagos", "Osaka", "Lima", "Oslo", "Quito"]
TEMPLATES = [("{p} visited {c} yesterday", ), ("yesterday {c} welcomed {p}", ), ("the mayor of {c} met {p} today", )]
TEXT = "Alice Brown visited Paris yesterday"


def write_sentences(path: Path, rows: int = 240) -> None:
    """JSON lines of words and BIO tags: a two-word person (PER) and a city (LOC) in simple sentences."""
    rng = random.Random(0)
    with path.open("w") as handle:
        for _ in range(rows):
            (template,) = rng.choice(TEMPLATES)
            first, last, city = rng.choice(FIRST), rng.choice(LAST), rng.choice(CITIES)
            words, tags = [], []
            for word in template.split():
                if word == "{p}":
                    words += [first, last]
                    tags += ["B-PER", "I-PER"]
                elif word == "{c}":
                    words.append(city)
                    tags.append("B-LOC")
                else:
                    words.append(word)
                    tags.append("O")
            handle.write(json.dumps({"tokens": words, "tags": tags}) + "\n")


@pytest.mark.e2e
def test_ner_run_exports_a_folder_the_pipeline_runs_and_predicts_entities(tmp_path):
    from transformers import pipeline

    write_sentences(tmp_path / "ner.jsonl")
    run_root = tmp_path / "runs"
    connection = [f"run_root={run_root}", f"temporal.port={free_port()}", "temporal.ui=false"]
    done = train_tune(
        "model=bert_tiny", "dataset=json", f"dataset.data_files.train={tmp_path / 'ner.jsonl'}",
        "dataset.text_column=tokens", "dataset.label_column=tags", "task=token_classification",
        "task.label_all_tokens=true", "dataset.max_length=24", "trainer.batch_size=16", "trainer.max_steps=80",
        "trainer.checkpoint_every_n_steps=40",
        "trainer.val_every_n_steps=40", "optim.lr=3e-3", "trainer.monitor=val_f1", "trainer.monitor_mode=max",
        f"predict_texts=[{TEXT}]", *connection, cwd=tmp_path, timeout=900,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    result = json.loads(next(tmp_path.glob("outputs/*/*/result.json")).read_text())
    assert set(result["metrics"]) == {"f1", "precision", "recall", "token_accuracy", "loss"}
    assert result["metrics"]["f1"] > 0.8, result["metrics"]
    assert {c["label"] for c in result["per_class"]} == {"LOC", "PER"}
    assert "per class (test)" in output and "token_accuracy" in output
    assert 'predict: PER "Alice Brown" [0:11]; LOC "Paris" [20:25]' in output, output[-3000:]
    assert result["predictions"][0]["entities"][0] == {**result["predictions"][0]["entities"][0],
                                                       "type": "PER", "text": "Alice Brown", "start": 0, "end": 11}
    run_id = result["workflow_id"]

    folder = tmp_path / "exported"
    exported = train_tune("export", run_id, "--out", str(folder), *connection, cwd=tmp_path)
    assert exported.returncode == 0, (exported.stdout + exported.stderr)[-4000:]
    assert "AutoModelForTokenClassification.from_pretrained" in exported.stdout
    text = "Yesterday Osaka welcomed Farah Haddad"  # "Farah" and "Haddad" are split into several sub-tokens
    for strategy in ("simple", "first"):  # label_all_tokens: every sub-token was trained, so "simple" groups words
        tagger = pipeline("token-classification", model=str(folder), aggregation_strategy=strategy)
        found = {(e["entity_group"], text[e["start"]:e["end"]]) for e in tagger(text)}
        assert found == {("LOC", "Osaka"), ("PER", "Farah Haddad")}, (strategy, tagger(text))

    by_run = train_tune("predict", run_id, "--text", TEXT, *connection, cwd=tmp_path)
    by_folder = train_tune("predict", str(folder), "--text", TEXT, cwd=tmp_path)
    for printed in (by_run, by_folder):
        assert printed.returncode == 0, (printed.stdout + printed.stderr)[-4000:]
        label, score, text_back = printed.stdout.strip().split("\t")
        assert label == 'PER "Alice Brown" [0:11]; LOC "Paris" [20:25]' and 0 < float(score) <= 1 and text_back == TEXT
    written = train_tune("predict", str(folder), "--text", TEXT, "--text", "nothing here", "--out",
                         str(tmp_path / "tags.jsonl"), cwd=tmp_path)
    assert written.returncode == 0, (written.stdout + written.stderr)[-4000:]
    rows = [json.loads(line) for line in (tmp_path / "tags.jsonl").read_text().splitlines()]
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in rows[0]["entities"]] == [
        ("PER", "Alice Brown", 0, 11), ("LOC", "Paris", 20, 25)]
    for row in rows:  # the label lists the row's entities; each span cuts its own text out of the row's text
        assert row["label"] == describe(row["entities"]), row
        assert all(row["text"][e["start"]:e["end"]] == e["text"] and 0 < e["score"] <= 1 for e in row["entities"])
    (tmp_path / "a-file").write_text("")
    unwritable = train_tune("predict", str(folder), "--text", TEXT, "--out", str(tmp_path / "a-file" / "t.jsonl"),
                            cwd=tmp_path)
    said = unwritable.stdout + unwritable.stderr
    assert unwritable.returncode == 2 and "Traceback" not in said, said[-3000:]
    assert "t.jsonl', but it cannot be written" in said and len(said.strip().splitlines()) == 1, said[-3000:]
