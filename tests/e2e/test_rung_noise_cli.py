"""The rung-noise warning as users meet it: a sweep whose first rung cannot tell its trials apart warns at
its end and in `train-tune results`; one whose first rung separates them does not.

Two-trial grid sweeps of bert_tiny (rungs 4/8 steps, eta 2, no warmup) over two learning rates each: 1e-7
and 2e-7 move no trial's val_loss from its (shared) initial value in 4 steps, so rung 0's spread is ~0,
within 1% of the loss; 1e-6 and 3e-2 leave rung 0 far apart."""

from __future__ import annotations

import json

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune

SMALL = ["experiment=bert_sweep", "sampler=grid", "n_trials=2", "ladder.eta=2", "ladder.rungs=[4,8]",
         "trainer.max_steps=8", "trainer.checkpoint_every_n_steps=4", "trainer.val_every_n_steps=4",
         "trainer.monitor=val_loss", "trainer.monitor_mode=min", "direction=minimize", "dataset.max_samples=200",
         "dataset.max_length=32", "trainer.batch_size=8", "optim.warmup_ratio=0.0"]
WARNING = "warning: rung 0 (4 steps): val_loss spread "


def lrs(low: float, high: float) -> str:
    return f"search_space.params=[{{key: optim.lr, type: categorical, choices: [{low}, {high}]}}]"


@pytest.mark.e2e
def test_a_rung_within_noise_warns_in_the_results_and_one_that_separates_does_not(tmp_path):
    connection = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false"]
    flat = train_tune(*SMALL, lrs(1e-7, 2e-7), "experiment_name=flat", *connection, cwd=tmp_path)
    output = flat.stdout + flat.stderr
    assert flat.returncode == 0, output[-4000:]
    assert WARNING in flat.stdout and "across 2 trials is within noise (±0.016)" in flat.stdout, flat.stdout[-3000:]
    assert "rung 1" not in flat.stdout.split(WARNING)[1].splitlines()[0]  # one line, the top rung never warns
    sweep = json.loads(next(tmp_path.glob("outputs/*/*/sweep.json")).read_text())
    results = train_tune("results", sweep["workflow_id"], "--out", str(tmp_path / "report"), *connection,
                         cwd=tmp_path, timeout=300)
    assert results.returncode == 0, (results.stdout + results.stderr)[-4000:]
    assert results.stdout.count(WARNING) == 1 and "promotions there are close to random" in results.stdout

    apart = train_tune(*SMALL, lrs(1e-6, 3e-2), "experiment_name=apart", *connection, cwd=tmp_path)
    assert apart.returncode == 0, (apart.stdout + apart.stderr)[-4000:]
    assert "best trial" in apart.stdout and "warning: rung" not in apart.stdout, apart.stdout[-3000:]
