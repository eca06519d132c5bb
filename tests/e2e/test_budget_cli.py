"""A sweep's budget as a user sets it: a sweep stopped by `budget.max_steps_total` from the command line,
what it used in the runner's summary, `status`, `results`, sweep.json and the HTML report; and a budget a
single run cannot have, refused before anything starts."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune

SPENT = "sweep stopped by its budget (max_steps_total: 20 of 15 steps trained) before its plan was done"
USED = "budget used: 20 of 15 steps trained (133%); spent: max_steps_total, so the sweep stopped"


@pytest.mark.e2e
def test_a_sweep_stopped_by_its_budget_from_the_command_line(tmp_path):
    common = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false"]
    done = train_tune("experiment=bert_sweep", "sampler=random", "n_trials=4", "ladder.eta=2", "ladder.rungs=[10,20]",
                      "trainer.max_steps=20", "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10",
                      "dataset.max_samples=300", "dataset.max_length=64", "parallelism=1",
                      "budget.max_steps_total=15", *common, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert SPENT in done.stdout and USED in done.stdout, output[-3000:]
    sweep_id = re.search(r"started sweep (\S+):", done.stdout).group(1)  # type: ignore[union-attr]

    status = train_tune("status", sweep_id, "--once", *common, cwd=tmp_path, timeout=300)
    assert status.returncode == 0 and USED in status.stdout and SPENT in status.stdout, status.stdout + status.stderr

    results = train_tune("results", sweep_id, "--out", str(tmp_path / "report"), "--html", *common, cwd=tmp_path,
                         timeout=300)
    assert results.returncode == 0 and USED in results.stdout, (results.stdout + results.stderr)[-3000:]
    assert "stop_sweep trial -1 rung -1: budget spent: max_steps_total: 20 of 15 steps trained" in results.stdout
    sweep = json.loads((tmp_path / "report" / "sweep.json").read_text())
    assert sweep["status"] == "stopped" and sweep["budget_spent"] == "max_steps_total" and sweep["budget_note"] == USED
    assert sweep["budget"]["max_steps_total"] == 15 and sweep["budget_used"]["steps"] == sweep["total_steps"] == 20
    assert len(sweep["trials"]) == 2 and sweep["best_trial"] in (0, 1)  # nothing started once it was spent
    page = (tmp_path / "report" / "report.html").read_text()
    assert f"<p id='budget'>{USED}</p>" in page and "stopped by its budget (max_steps_total" in page


@pytest.mark.parametrize("args, expected", [
    (["budget.max_steps_total=100"], "budget.max_steps_total is 100, but a budget applies to sweeps only"),
    (["experiment=bert_sweep", "budget.max_wall_time=soon"], "budget.max_wall_time is 'soon', but must be seconds"),
    (["-m", "optim.lr=1e-4,1e-3", "budget.max_steps_total=100"],
     "budget.max_steps_total is 100, but a budget applies to sweeps only (ladder=... or search_space=...), not to "
     "a multirun's job"),
])
def test_a_budget_is_refused_where_it_cannot_apply(tmp_path, args, expected):
    done = train_tune(*args, f"run_root={tmp_path / 'runs'}", cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len((done.stdout + done.stderr).strip().splitlines()) == 1 and expected in done.stdout + done.stderr
    assert not (tmp_path / "runs" / "temporal.sqlite").exists(), "no server (and no workflow) may start"
