"""A sweep's best_config.yaml reproduces the best trial's recorded score: one straight run of it reaches, bit
for bit, the metric the sweep recorded at the trial's last rung, although the trial trained in segments
(resumed at a rung that ends an epoch, from a checkpoint written after its segment ended), and it reports
the sweep's id and the config commit the sweep was started from (result.json and the terminal)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune

# 200 training texts in batches of 16: 13 steps an epoch, so the rungs end epochs; checkpoints every 10 steps,
# so the segment to 13 ends with a checkpoint written after its fit (the case that used to resume one step off)
SWEEP = """# @package _global_
defaults:
  - override /model: bert_tiny
  - override /dataset: bbc_news
  - override /trainer: cpu
  - override /ladder: sha
  - override /search_space: lr_warmup
  - override /sampler: random

experiment_name: repro_sweep
n_trials: 2
parallelism: 2
ladder:
  rungs: [13, 26]
  eta: 2
dataset:
  max_samples: 200
  max_length: 64
model:
  dropout: 0.2
trainer:
  batch_size: 16
  max_steps: 26
  checkpoint_every_n_steps: 10
  val_every_n_steps: 13
predict_texts: []
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.e2e
def test_best_config_reproduces_the_recorded_rung_metric_and_names_its_sweep(tmp_path):
    repo = tmp_path / "team-configs"
    (repo / "experiment").mkdir(parents=True)
    (repo / "experiment" / "repro_sweep.yaml").write_text(SWEEP)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "sweep")
    commit = git(repo, "rev-parse", "HEAD")
    common = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false"]

    done = train_tune("--config-dir", str(repo), "experiment=repro_sweep", *common, cwd=tmp_path, timeout=1500)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    out = next(tmp_path.glob("outputs/*/*/sweep.json")).parent
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["config_repo"]["commit"] == commit
    best = next(t for t in sweep["trials"] if t["number"] == sweep["best_trial"])
    assert best["rung_steps"] == [13, 26] and best["schedule_steps"][-1] == 26, best
    text = (out / "best_config.yaml").read_text()
    assert f"sweep {sweep['workflow_id']}" in text and commit in text and "not reproduced exactly" not in text

    rerun = train_tune("--config-dir", str(out), "--config-name", "best_config", *common[1:], cwd=tmp_path,
                       timeout=900)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-4000:]
    result = json.loads(next(tmp_path.glob("outputs/*/*/result.json")).read_text())
    assert result["train"]["global_step"] == 26
    assert result["train"]["final_score"] == best["metrics"][-1]  # bit for bit
    assert result["origin"]["sweep_id"] == sweep["workflow_id"] and result["origin"]["trial"] == best["number"]
    assert result["origin"]["config_commit"] == commit
    # its config came from the sweep's config repo, not from the outputs folder best_config.yaml lives in
    assert result["config_repo"]["commit"] == commit and result["config_repo"]["path"] == sweep["config_repo"]["path"]
    summary = rerun.stdout.replace("\n", " ")
    assert f"best config of sweep {sweep['workflow_id']}" in summary and "reproduced exactly" in summary, summary[-3000:]
