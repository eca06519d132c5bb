"""`experiment=minilm_sweep` is the sweep whose first rung was measured to rank as its top rung
(benchmarks/results/rung-signal-minilm.json, benchmarks/README.md "Rung signal"): the shipped file composes
to the configuration that measurement trained, so the figure the README quotes is the example's."""

from __future__ import annotations

import json
from pathlib import Path

from runner.resolve import to_plain
from tests.conftest import compose_config

MEASURED = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "rung-signal-minilm.json"
KEYS = (("model", "name"), ("model", "init"), ("dataset", "name"), ("ladder", "rungs"), ("search_space", "params"),
        ("trainer", "max_steps"), ("trainer", "checkpoint_every_n_steps"), ("trainer", "val_every_n_steps"),
        ("trainer", "monitor"), ("trainer", "batch_size"), ("dataset", "max_length"))


def test_the_shipped_minilm_sweep_is_the_configuration_measured():
    report = json.loads(MEASURED.read_text())
    measured, shipped = to_plain(compose_config(*report["overrides"])), to_plain(compose_config("experiment=minilm_sweep"))
    for group, key in KEYS:
        assert shipped[group][key] == measured[group][key], (group, key)
    assert report["metrics"]["val_loss"]["spearman_first_top"] >= 0.5 and report["rungs"] == [10, 30, 90]
