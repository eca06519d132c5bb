"""Smoke mode of the data-at-scale benchmark: both snapshot arms (train-tune's `build_snapshot` and plain
`datasets` load + map) run in child processes at two small sizes, then bert_tiny trains a few steps on each
snapshot. Checks the table and the JSON's shape; no timing asserted."""

import json

from benchmarks import snapshot_scale


def test_snapshot_scale_smoke_measures_both_arms_and_training_at_each_size(tmp_path, capsys):
    assert snapshot_scale.main(["--smoke", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "ours/HF" in printed and "steps/s, largest / smallest snapshot" in printed
    figures = json.loads((tmp_path / "snapshot-scale-smoke.json").read_text())
    assert figures["cpus"] >= 1 and figures["max_length"] == snapshot_scale.MAX_LENGTH
    sizes = figures["sizes"]
    assert [row["rows"] for row in sizes] == [2_000, 4_000]
    assert [row["order"] for row in sizes] == [["ours", "hf"], ["hf", "ours"]]  # alternating
    for row in sizes:
        assert row["ours"]["rows"] == row["hf"]["rows"] == row["rows"]  # every row kept by both
        assert row["ours"]["reused"] is False
        for arm in ("ours", "hf"):
            assert row[arm]["seconds"] > 0 and row[arm]["load_before"] >= 0
            assert row[arm]["peak_mb"] >= row[arm]["peak_anon_mb"] > 0  # RssAnon leaves out mapped files
        assert row["ratio"] == row["ours"]["seconds"] / row["hf"]["seconds"]
    training = figures["training"]
    assert [row["rows"] for row in training] == [4_000, 2_000] and len(training[0]["runs"]) == 2
    for row in training:
        assert row["steps_per_s"] > 0 and row["peak_mb"] >= row["peak_anon_mb"] > 0 and row["train_rows"] < row["rows"]
        assert all(run["steps"] == snapshot_scale.WARMUP + 6 for run in row["runs"])
    assert figures["training_ratio"] == training[0]["steps_per_s"] / training[1]["steps_per_s"]
