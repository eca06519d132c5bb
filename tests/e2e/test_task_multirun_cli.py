"""`train-tune -m` for the tasks beyond single-label classification: one coordinator runs a job per learning
rate, and its leaderboard (terminal, leaderboard.json/csv) ranks the jobs by the task's own test metric
(`workflows.payloads.runs.leaderboard_metric`): micro-F1 for multi-label, entity F1 for NER, Pearson for
regression."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import free_port

TASKS = {
    "multi_label": (["dataset=goemotions_ekman", "trainer.monitor=val_micro_f1"], "micro_f1"),
    "token_classification": (["dataset=wnut17", "dataset.data_files.validation=", "dataset.data_files.test=",
                              "dataset.validation_fraction=0.1", "dataset.test_fraction=0.1",
                              "trainer.monitor=val_f1"], "f1"),
    "regression": (["dataset=vader_tweets", "trainer.monitor=val_pearson"], "pearson"),
}
FAST = ["model=bert_tiny", "dataset.max_samples=200", "dataset.max_length=32", "trainer.batch_size=16",
        "trainer.max_steps=10", "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10",
        "trainer.monitor_mode=max", "predict_texts=[]", "parallelism=2"]


@pytest.mark.e2e
@pytest.mark.parametrize("task", TASKS)
def test_a_multirun_ranks_its_jobs_by_the_tasks_own_metric(tmp_path, task):
    overrides, metric = TASKS[task]
    done = subprocess.run(
        ["train-tune", "-m", *overrides, *FAST, "optim.lr=1e-3,3e-3", f"run_root={tmp_path / 'runs'}",
         f"temporal.port={free_port()}", "temporal.ui=false"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900, env={**os.environ, "COLUMNS": "200"},
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    sweep = next(tmp_path.glob("multirun/*/*"))
    board = json.loads((sweep / "leaderboard.json").read_text())
    assert [j["state"] for j in board["status"]["jobs"]] == ["completed", "completed"], board["status"]["jobs"]
    column = f"test_{metric}"
    ranked = [row[column] for row in board["jobs"]]
    assert len(ranked) == 2 and ranked == sorted(ranked, reverse=True), board["jobs"]
    assert all(metric in json.loads((sweep / str(i) / "result.json").read_text())["metrics"] for i in range(2))
    assert column in (sweep / "leaderboard.csv").read_text().splitlines()[0] and column in output
