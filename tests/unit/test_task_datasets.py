"""The committed datasets for the pair, regression, multi-label and token tasks resolve from any cwd and hold
the columns their tasks read (data/make_task_data.py makes them; data/*/NOTICE says where from)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from runner.config_schema import repo_data_dir
from runner.resolve import to_plain
from tests.conftest import compose_config

EKMAN = {"anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"}


def data_files(option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.chdir(tmp_path)  # ${repo_data:...} must not depend on where train-tune is started
    # composed and interpolated only: resolve_run refuses float and list labels until the tasks land
    dataset = to_plain(compose_config(f"dataset={option}"))["dataset"]
    assert dataset["name"] == option and dataset["source"] == "files"
    files = {split: Path(path) for split, path in dataset["data_files"].items() if path}
    assert set(files) == {"train", "validation", "test"}
    for path in files.values():
        assert path.is_absolute() and path.is_file(), path
        assert (path.parent / "NOTICE").is_file()
    return files


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_pair_dataset(tmp_path, monkeypatch):
    for path in data_files("bbc_headline_pair", tmp_path, monkeypatch).values():
        frame = pd.read_csv(path)
        assert list(frame.columns) == ["text", "text_pair", "label"]
        assert set(frame["label"]) == {"match", "mismatch"}
        assert frame["text"].str.len().min() > 0 and frame["text_pair"].str.len().min() > 0


def test_regression_dataset(tmp_path, monkeypatch):
    for path in data_files("vader_tweets", tmp_path, monkeypatch).values():
        frame = pd.read_csv(path)
        assert list(frame.columns) == ["text", "label"]
        assert frame["label"].dtype == float and frame["label"].between(-4, 4).all()


def test_multi_label_dataset(tmp_path, monkeypatch):
    rows = [row for path in data_files("goemotions_ekman", tmp_path, monkeypatch).values() for row in jsonl(path)]
    assert all(set(row) == {"text", "labels"} and row["labels"] and set(row["labels"]) <= EKMAN for row in rows)
    assert any(len(row["labels"]) > 1 for row in rows)


def test_token_dataset(tmp_path, monkeypatch):
    for path in data_files("wnut17", tmp_path, monkeypatch).values():
        for row in jsonl(path):
            assert len(row["tokens"]) == len(row["tags"]) > 0
            assert all(re.fullmatch(r"O|[BI]-[a-z-]+", tag) for tag in row["tags"])


def test_missing_data_folder_says_how_to_make_it():
    with pytest.raises(ValueError, match="make_task_data.py"):
        repo_data_dir("no_such_dataset")
