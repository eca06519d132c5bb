"""The shipped sweeps whose first rung was measured to rank as their top rung (benchmarks/README.md, "Rung
signal"): `experiment=minilm_sweep` (results/rung-signal-minilm.json) and `experiment=bert_sweep`
(results/rung-signal-tiny-90.json). Each shipped file composes to the configuration that measurement
trained, so the figure the README quotes is the example's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.resolve import to_plain
from tests.conftest import compose_config

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
KEYS = (("model", "name"), ("model", "init"), ("dataset", "name"), ("ladder", "rungs"), ("search_space", "params"),
        ("trainer", "max_steps"), ("trainer", "checkpoint_every_n_steps"), ("trainer", "val_every_n_steps"),
        ("trainer", "monitor"), ("trainer", "batch_size"), ("dataset", "max_length"))


@pytest.mark.parametrize("experiment, measurement, rungs", [("minilm_sweep", "rung-signal-minilm.json", [10, 30, 90]),
                                                            ("bert_sweep", "rung-signal-tiny-90.json", [90, 270])])
def test_the_shipped_sweep_is_the_configuration_measured(experiment, measurement, rungs):
    report = json.loads((RESULTS / measurement).read_text())
    measured, shipped = to_plain(compose_config(*report["overrides"])), to_plain(compose_config(f"experiment={experiment}"))
    for group, key in KEYS:
        assert shipped[group][key] == measured[group][key], (group, key)
    assert report["metrics"]["val_loss"]["spearman_first_top"] >= 0.5 and report["rungs"] == rungs
    assert shipped["ladder"]["rungs"] == rungs and shipped["trainer"]["monitor"] == "val_loss"
