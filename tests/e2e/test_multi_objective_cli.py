"""A multi-objective asha sweep as a user runs it: bert_tiny, validation accuracy against inference latency
(measured by the trainings), a constraint, the Pareto front in the terminal, `status`, sweep.json and the
HTML report, and `results --pick` writing a front point's config that composes as a single run."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune

OBJECTIVES = "objectives=[{metric: val_accuracy, direction: maximize, weight: 1}, {metric: latency_ms, direction: minimize}]"


@pytest.mark.e2e
def test_a_multi_objective_asha_sweep_shows_its_front(tmp_path):
    common = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false"]
    done = train_tune("experiment=bert_sweep", "ladder=asha", "sampler=random", "n_trials=6", "ladder.eta=2",
                      "ladder.rungs=[10,20]", "trainer.max_steps=20", "trainer.checkpoint_every_n_steps=10",
                      "trainer.val_every_n_steps=10", "trainer.monitor=val_accuracy", "trainer.monitor_mode=max",
                      "direction=maximize", "dataset.max_samples=300", "dataset.max_length=64", OBJECTIVES,
                      "constraints=[{metric: latency_ms, max: 10000}]", *common, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    front = re.search(r"Pareto front at step (\d+): (\d+) of (\d+) trials", done.stdout)
    assert front is not None, done.stdout[-3000:]
    assert "weighted pick: trial" in done.stdout and "results ID --pick N" in done.stdout
    sweep_id = re.search(r"started sweep (\S+):", done.stdout).group(1)  # type: ignore[union-attr]

    status = train_tune("status", sweep_id, "--once", *common, cwd=tmp_path, timeout=300)
    assert status.returncode == 0 and "Pareto front at step" in status.stdout, status.stdout + status.stderr

    out = tmp_path / "report"
    results = train_tune("results", sweep_id, "--out", str(out), "--html", "--pick", "1", *common, cwd=tmp_path,
                         timeout=300)
    assert results.returncode == 0, (results.stdout + results.stderr)[-3000:]
    sweep = json.loads((out / "sweep.json").read_text())
    pareto = sweep["pareto"]
    assert pareto["objectives"] == ["val_accuracy", "latency_ms"] and pareto["front"]
    for row in pareto["front"]:  # every front point was measured: a latency in ms beside its accuracy
        assert 0 < row["latency_ms"] < 10_000 and 0 <= row["val_accuracy"] <= 1
    decisions = [d["detail"] for d in sweep["decisions"] if d["kind"] in ("promote", "stop")]
    assert decisions and all("front" in detail for detail in decisions), decisions
    page = (out / "report.html").read_text()
    assert "fig-pareto" in page and "fig-hypervolume" in page and 'id="pareto-front"' in page
    picked = out / "front_1_config.yaml"
    assert f"Pareto front point 1: trial {pareto['front'][0]['trial']}" in picked.read_text()
    composed = train_tune("--config-dir", str(out), "--config-name", "front_1_config", "--cfg", "job", cwd=tmp_path,
                          timeout=120)
    assert composed.returncode == 0 and "objectives: []" in composed.stdout, composed.stdout + composed.stderr

    bad = train_tune("results", sweep_id, "--pick", "99", *common, cwd=tmp_path, timeout=300)
    assert bad.returncode == 2 and "--pick is '99', but must be a front point 1.." in bad.stdout + bad.stderr
