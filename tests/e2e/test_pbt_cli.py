"""`ladder=pbt` as a user runs it: `experiment=bert_pbt` from the command line (shortened), its lineage in
the terminal, sweep.json and the HTML report, and its best_config.yaml (the schedule the best member's
weights were trained under) run as-is, reproducing the member's metric."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune

PBT = ["experiment=bert_pbt", "trainer.max_steps=40", "ladder.perturbation_interval=10",
       "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10", "trainer.monitor=val_loss",
       "trainer.monitor_mode=min", "direction=minimize", "ladder.resample_probability=0"]


@pytest.mark.e2e
def test_a_pbt_sweep_from_the_command_line_and_its_schedule_reproduces(tmp_path):
    common = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false",
              "dataset.max_samples=300", "dataset.max_length=64"]
    done = train_tune(*PBT, *common, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "started sweep bert_pbt-pbt-" in done.stdout and "bracket 0: 4 trials at rungs ['10', '20', '30', '40']" \
        in done.stdout
    exploits = re.findall(r"^rung (\d): exploit trial (\d) \(member \d \([\d.]+\) copies member (\d)", done.stdout, re.M)
    assert [rung for rung, _, _ in exploits] == ["0", "1", "2"], done.stdout[-3000:]
    # piped, the trial table prints whole: one line per member, its lineage and its state
    rows = re.findall(r"^(\d)\s+optim\.lr=\S+ optim\.warmup_ratio=\S+\s+(\S.*?)\s+completed\s", done.stdout, re.M)
    assert [n for n, _ in rows] == ["0", "1", "2", "3"], done.stdout[-3000:]
    assert "steps trained: 160 (every trial to the top rung: 160)" in done.stdout

    out = next(tmp_path.glob("outputs/*/*/sweep.json")).parent
    sweep = json.loads((out / "sweep.json").read_text())
    for rung, target, source in exploits:  # each exploit is in the target's lineage, at its boundary
        lineage = sweep["trials"][int(target)]["lineage"]
        assert {"step": 10 * (int(rung) + 1), "source": int(source)}.items() <= next(
            s for s in lineage if s["step"] == 10 * (int(rung) + 1)).items()
    best = sweep["best_lineage"]
    assert best["trial"] == sweep["best_trial"] and best["schedule"][0]["from_step"] == 0

    report = train_tune("results", sweep["workflow_id"], "--out", str(tmp_path / "report"), "--html",
                        *common[:2], "temporal.ui=false", cwd=tmp_path)
    assert report.returncode == 0, (report.stdout + report.stderr)[-3000:]
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Exploit and explore" in html and "lineage" in html.lower()

    config = (out / "best_config.yaml").read_text()
    assert "# the hyperparameter schedule population-based training member" in config
    rerun = train_tune("--config-dir", str(out), "--config-name", "best_config", *common[1:2], "temporal.ui=false",
                       cwd=tmp_path)
    text = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, text[-4000:]
    assert "reproduced exactly" in text, text[-3000:]
