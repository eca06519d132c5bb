"""Exit codes as a user's script sees them (README "Exit codes"): 2 bad config with nothing started, 3 an
unknown workflow ID, 1 a run that failed (and `status`/`results` of it); one line each, no traceback."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune


def said(done: subprocess.CompletedProcess) -> str:
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output[-4000:]
    return output


@pytest.mark.parametrize("args, expected", [
    (["trainer.heartbeat_timeout_s=nan"], "trainer.heartbeat_timeout_s is nan"),
    (["experiment=bert_sweep", "search_space.params=[{key: trainer.batch_size, type: categorical, choices: [0]}]"],
     "trainer.batch_size is 0"),
    (["-m", "parallelism=0", "optim.lr=1e-3,1e-4"], "parallelism is 0"),
], ids=["single run", "sweep", "multirun"])
def test_bad_config_exits_2_before_any_server_starts(tmp_path, args, expected):
    done = train_tune(*args, f"run_root={tmp_path / 'runs'}", cwd=tmp_path, timeout=180)
    assert done.returncode == 2 and expected in said(done), said(done)[-3000:]
    assert not (tmp_path / "runs" / "temporal.sqlite").exists(), "nothing may start"


def test_an_unknown_workflow_id_exits_3(tmp_path):
    for command in (["status"], ["results"], ["results", "--optuna-storage", str(tmp_path / "study.log")]):
        done = train_tune(*command, "no-such-run", f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}",
                          "temporal.ui=false", cwd=tmp_path, timeout=300)
        assert done.returncode == 3 and "no workflow 'no-such-run'" in said(done), (command, said(done)[-3000:])
    assert not (tmp_path / "study.log").exists()


@pytest.mark.parametrize("args, expected", [
    (["--optuna-storage", "{tmp}/missing/study.log"], "--optuna-storage is '{tmp}/missing/study.log', but its folder"),
    (["--optuna-storage", "postgresql://db/optuna"], "must be a file path"),
    (["--optuna-storage", "{tmp}/notes.txt"], "is not an Optuna journal file"),
    (["--follow"], "add --optuna-storage PATH"),
], ids=["missing folder", "url", "not a journal", "follow alone"])
def test_a_bad_optuna_storage_exits_2_before_any_server_starts(tmp_path, args, expected):
    (tmp_path / "notes.txt").write_text("my notes\n")
    args = [arg.format(tmp=tmp_path) for arg in args]
    done = train_tune("results", "some-sweep", *args, f"run_root={tmp_path / 'runs'}", cwd=tmp_path, timeout=180)
    output = said(done)
    assert done.returncode == 2 and expected.format(tmp=tmp_path) in output, output[-3000:]
    assert len(output.strip().splitlines()) == 1 and (tmp_path / "notes.txt").read_text() == "my notes\n"
    assert not (tmp_path / "runs" / "temporal.sqlite").exists(), "nothing may start"


@pytest.mark.e2e
def test_a_failed_run_exits_1_and_so_do_status_and_results_of_it(tmp_path):
    """A real run whose training fails (an architecture transformers refuses, one attempt)."""
    connection = [f"run_root={tmp_path / 'runs'}", "temporal.ui=false"]
    done = train_tune("model.architecture.hidden_size=65", "trainer.max_attempts=1", "dataset.max_samples=40",
                      "trainer.max_steps=2", f"temporal.port={free_port()}", *connection, cwd=tmp_path, timeout=400)
    output = said(done)
    assert done.returncode == 1, output[-4000:]
    match = re.search(r"workflow (\S+) failed: .*not a multiple of the number of attention heads", output)
    assert match, output[-4000:]
    for command in ("status", "results"):
        again = train_tune(command, match.group(1), f"temporal.port={free_port()}", *connection, cwd=tmp_path,
                           timeout=300)
        assert again.returncode == 1 and "attention heads" in said(again), (command, said(again)[-3000:])
    single = train_tune("results", match.group(1), "--optuna-storage", "study.log", f"temporal.port={free_port()}",
                        *connection, cwd=tmp_path, timeout=300)  # a single run has no trials: what works instead
    assert single.returncode == 2 and "(a single run); --optuna-storage writes ladder sweeps" in said(single)
    assert not list(Path(tmp_path).glob("outputs/*/*/result.json"))


@pytest.mark.e2e
def test_a_sweep_whose_every_trial_failed_exits_1_and_so_does_results(tmp_path):
    """Two real trials that both fail (an architecture transformers refuses); the sweep itself completes."""
    connection = [f"run_root={tmp_path / 'runs'}", "temporal.ui=false"]
    done = train_tune("experiment=bert_sweep", "ladder=none", "ladder.rungs=[]", "n_trials=2",
                      "model.architecture.hidden_size=65", "trainer.max_attempts=1", "dataset.max_samples=40",
                      "trainer.max_steps=2", "trainer.checkpoint_every_n_steps=2", "trainer.val_every_n_steps=2",
                      f"temporal.port={free_port()}", *connection, cwd=tmp_path, timeout=400)
    output = said(done)
    assert done.returncode == 1 and "every trial failed (2)" in output, output[-4000:]
    sweep_id = re.search(r"started sweep (\S+):", output)
    assert sweep_id, output[-4000:]
    again = train_tune("results", sweep_id.group(1), f"temporal.port={free_port()}", *connection, cwd=tmp_path,
                       timeout=300)
    assert again.returncode == 1 and "every trial failed (2)" in said(again), said(again)[-3000:]
