"""A conditional search space as a user runs it: `experiment=bert_sweep search_space=model_lr` (shortened),
searching `model` in {bert_tiny, minilm_l6} with a learning-rate range per model. Both models train; the
terminal, `status`, sweep.json, the HTML report and the Optuna export show each trial's active parameters
only; best_config.yaml holds the best trial's whole model config and reproduces its metric; a model choice
that is no option is refused in one line before anything starts."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune

SWEEP = ["experiment=bert_sweep", "search_space=model_lr", "n_trials=4", "ladder.rungs=[4,8]", "ladder.eta=2",
         "sampler.seed=2", "trainer.max_steps=8", "trainer.checkpoint_every_n_steps=4", "trainer.val_every_n_steps=4",
         "trainer.batch_size=8", "dataset.max_samples=120", "dataset.max_length=64"]


@pytest.mark.e2e
def test_a_model_search_with_per_model_lr_from_the_command_line(tmp_path):
    connection = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false"]
    done = train_tune(*SWEEP, *connection, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    sweep_id = re.search(r"started sweep (\S+):", done.stdout).group(1)
    # piped, the trial table prints whole: bert_tiny trials show no warmup (inactive), minilm_l6 trials do
    rows = re.findall(r"^\d+\s+(model=\S+ optim\.lr=\S+(?: optim\.warmup_ratio=\S+)?)", done.stdout, re.M)
    assert len(rows) == 4 and {row.split()[0] for row in rows} == {"model=bert_tiny", "model=minilm_l6"}, done.stdout[-3000:]
    assert all(("warmup" in row) == ("minilm_l6" in row) for row in rows), rows

    out = next(tmp_path.glob("outputs/*/*/sweep.json")).parent
    sweep = json.loads((out / "sweep.json").read_text())
    for trial in sweep["trials"]:
        low, high = (1e-4, 3e-3) if trial["params"]["model"] == "bert_tiny" else (1e-5, 1e-4)
        assert low <= trial["params"]["optim.lr"] <= high
        assert ("optim.warmup_ratio" in trial["params"]) == (trial["params"]["model"] == "minilm_l6")
    best = next(t for t in sweep["trials"] if t["number"] == sweep["best_trial"])
    config = yaml.safe_load((out / "best_config.yaml").read_text())
    assert config["model"]["name"] == best["params"]["model"] and config["optim"]["lr"] == best["params"]["optim.lr"]
    assert ("name_or_path" in config["model"] and config["model"]["init"]) == (
        "pretrained" if best["params"]["model"] == "minilm_l6" else "config")

    status = train_tune("status", sweep_id, "--once", *connection, cwd=tmp_path, timeout=300)
    assert status.returncode == 0 and "model=minilm_l6" in status.stdout, (status.stdout + status.stderr)[-3000:]
    report = train_tune("results", sweep_id, "--out", str(tmp_path / "report"), "--html", "--optuna-storage",
                        "study.log", *connection, cwd=tmp_path, timeout=300)
    assert report.returncode == 0, (report.stdout + report.stderr)[-3000:]
    html = (tmp_path / "report" / "report.html").read_text()
    assert "model=minilm_l6" in html and "model=bert_tiny" in html

    rerun = train_tune("--config-dir", str(out), "--config-name", "best_config", *connection[1:], cwd=tmp_path)
    text = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, text[-4000:]
    # a kernel may split a float32 sum differently when the CPU is crowded: a few ulp apart is the same run
    assert "reproduced exactly" in text or "reproduced to float32 precision" in text, text[-3000:]


@pytest.mark.e2e
def test_a_model_choice_that_is_no_option_is_one_line(tmp_path):
    done = train_tune(*SWEEP, "search_space.params.0.choices=[bert_tiny,bert_huge]", f"run_root={tmp_path}",
                      cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert (done.stdout + done.stderr).strip() == (
        "error: search_space.params.model choices[1]='bert_huge', but Could not find 'model/bert_huge'; valid: "
        "bert_base, bert_tiny, minilm_l6")
