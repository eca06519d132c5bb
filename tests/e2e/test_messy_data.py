"""Messy real files through the `train-tune` command: refused in one line before any server starts, or
trained with their own label names (tests/data/messy/ says what each file holds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune

MESSY = Path(__file__).parents[1] / "data" / "messy"


def csv_args(name: str, *more: str) -> list[str]:
    return ["dataset=csv", f"dataset.data_files.train={MESSY / name}", *more]


@pytest.mark.parametrize("args, expected", [
    (csv_args("latin1.csv"), "latin1.csv' is not valid utf-8 at byte"),
    (csv_args("empty_text.csv"), "has empty text in 2 row(s) (line 5, line 10)"),
    (csv_args("float_labels.csv", "dataset.label_column=score"), "regression"),
    (csv_args("train_without_tech.csv", f"dataset.data_files.validation={MESSY / 'validation_with_tech.csv'}"),
     "has label 'tech' (line 6), which the training split lacks"),
])
def test_messy_files_are_refused_in_one_line_before_anything_starts(tmp_path, args, expected):
    """A few cases through the command (each costs a process start); tests/unit/test_data_intake.py has all."""
    done = train_tune(*args, "model=bert_tiny", f"run_root={tmp_path / 'runs'}", cwd=tmp_path, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert expected in output, output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    assert not (tmp_path / "runs" / "temporal.sqlite").exists(), "no server (and no workflow) may start"


@pytest.mark.e2e
def test_an_excel_export_trains_with_its_label_names_and_warns_of_a_rare_class(tmp_path):
    typo = tmp_path / "typo_bom.csv"
    typo.write_bytes((MESSY / "typo_class.csv").read_text().encode("utf-8-sig"))
    done = train_tune(
        "dataset=csv", f"dataset.data_files.train={typo}", "dataset.validation_fraction=0.2",
        "dataset.test_fraction=0.2", "model=bert_tiny", "trainer.max_steps=4", "trainer.batch_size=8",
        "trainer.val_every_n_steps=2", "trainer.checkpoint_every_n_steps=2", "predict_texts=[]",
        f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false", cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    warning = next(line for line in output.splitlines() if line.startswith("warning:"))
    assert "'sprots' (1 row)" in warning and warning in done.stderr
    snapshot = json.loads(next((tmp_path / "runs" / "snapshots").glob("*/snapshot.json")).read_text())
    assert snapshot["label_names"] == ["business", "entertainment", "politics", "sports", "sprots", "tech"]
    # stratified: every class with 5+ rows is in every split
    for split in ("train", "validation", "test"):
        assert all(snapshot["class_counts"][split][c] >= 1 for c in ("business", "politics", "sports", "tech")), split
