"""The same `train-tune` command again attaches to its run: after the runner was killed it follows the
running workflow to its end; once the run completed it prints and writes its result without training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

SMALL = ["experiment=bert_single", "model=bert_tiny", "dataset.max_samples=200", "dataset.max_length=64",
         "trainer.batch_size=16", "trainer.max_steps=60", "trainer.checkpoint_every_n_steps=10",
         "trainer.val_every_n_steps=10", "trainer.heartbeat_timeout_s=5", "predict_texts=[]"]


def train_tune(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["train-tune", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.mark.e2e
def test_the_same_command_after_a_killed_runner_attaches_instead_of_starting_a_second_run(tmp_path):
    runs = tmp_path / "runs"
    command = [*SMALL, f"run_root={runs}", f"temporal.port={free_port()}", "temporal.ui=false"]
    log = tmp_path / "runner.log"
    runner = subprocess.Popen(["train-tune", *command], cwd=tmp_path, stdout=log.open("w"),
                              stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"})
    try:
        for _ in range(1500):  # until the training has saved a checkpoint (~1 min at most)
            if list(runs.glob("checkpoints/*/step*.ckpt")):
                break
            assert runner.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        runner.send_signal(signal.SIGKILL)
        runner.wait(30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    (started,) = [line.split()[-1] for line in log.read_text().splitlines() if line.startswith("started workflow")]

    again = train_tune(*command, cwd=tmp_path)  # the runner died mid-training: the same command again
    output = again.stdout + again.stderr
    assert again.returncode == 0, output[-4000:]
    assert f"run {started} exists (RUNNING): attaching to it" in output and "started workflow" not in output
    assert f"workflow {started} completed" in output
    results = [json.loads(p.read_text()) for p in tmp_path.glob("outputs/*/*/result.json")]
    assert [r["workflow_id"] for r in results] == [started]
    assert results[0]["train"]["global_step"] == 60
    assert [p.name for p in (runs / "checkpoints").iterdir()] == [started]  # one run trained, not two

    done = train_tune(*command, cwd=tmp_path)  # completed: its result, no training
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert f"run {started} exists (COMPLETED): attaching to it" in output and "[train]" not in output
    results = sorted((json.loads(p.read_text()) for p in tmp_path.glob("outputs/*/*/result.json")),
                     key=lambda r: r["workflow_id"])
    assert len(results) == 2 and results[0] == results[1]  # the same result, written again where asked
