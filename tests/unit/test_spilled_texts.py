"""Texts spilled to an Arrow file during a snapshot build read back as they were written, in any order."""

from __future__ import annotations

import pytest

from activities import spilled_texts
from activities.data_sources import load_splits
from activities.spilled_texts import SpilledTexts, TextColumn, subset
from tests.unit.test_task_intake import csv_spec


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(spilled_texts, "BATCH", 3)  # rows cross several record batches


def spill(tmp_path, texts: list[str]) -> TextColumn:
    out = SpilledTexts(tmp_path / "t.arrow")
    for text in texts:
        out.append(text)
    return out.close()


def test_spilled_texts_read_back_in_order_across_batches(tmp_path, small_batches):
    texts = [f"text {i} é" for i in range(11)]
    column = spill(tmp_path, texts)
    assert len(column.batches) == 4 and len(column) == 11
    assert list(column) == texts and column[2:8] == texts[2:8] and column[10] == texts[10]
    assert column[20:] == []


def test_a_subset_reads_its_rows_in_the_order_given(tmp_path, small_batches):
    texts = [f"t{i}" for i in range(10)]
    column = spill(tmp_path, texts)
    order = [9, 0, 4, 4, 7, 1, 3]
    picked = subset(column, order)
    assert isinstance(picked, TextColumn) and list(picked) == [texts[i] for i in order]
    assert picked[1:4] == [texts[i] for i in order[1:4]]
    assert list(subset(picked, [2, 0])) == [texts[4], texts[9]]
    assert subset(texts, [2, 0]) == ["t2", "t0"]  # a plain list stays a list


def test_an_empty_spill_is_an_empty_column(tmp_path):
    column = spill(tmp_path, [])
    assert len(column) == 0 and list(column) == [] and column[0:5] == []


def test_a_spilled_intake_holds_what_the_in_memory_one_holds(tmp_path, small_batches):
    rows = [f"headline {i},article {i},{'match' if i % 3 else 'mismatch'}" for i in range(8)]
    spec = csv_spec(tmp_path, rows, task="pair_classification", header="text,text_pair,label",
                    text_pair_column="text_pair")
    (tmp_path / "spill").mkdir()
    kept, spilled = load_splits(spec).splits["train"], load_splits(spec, tmp_path / "spill").splits["train"]
    assert isinstance(spilled.texts, TextColumn) and isinstance(spilled.pairs, TextColumn)
    assert list(spilled.texts) == kept.texts and list(spilled.pairs) == kept.pairs
    assert spilled.labels == kept.labels


def test_a_snapshot_holds_the_same_rows_whatever_the_spill_batches(tmp_path, monkeypatch):
    import datasets

    from activities.snapshot import build_snapshot
    from tests.unit.test_snapshot import MINILM
    from workflows.payloads.messages import SnapshotRequest

    spec = csv_spec(tmp_path, [f"text {i} {'x ' * (i % 7)},{'abc'[i % 3]}" for i in range(60)],
                    task="sequence_classification", max_length=16)
    built = {}
    for batch in (1_000, 4):  # one record batch, and carved rows read from many
        monkeypatch.setattr(spilled_texts, "BATCH", batch)
        snapshot = build_snapshot(SnapshotRequest(spec, MINILM, str(tmp_path / f"root-{batch}")))
        built[batch] = {split: datasets.load_from_disk(f"{snapshot.uri}/{split}").to_dict()
                        for split in snapshot.split_sizes}
    assert built[4] == built[1_000] and sum(len(s["labels"]) for s in built[4].values()) == 60
