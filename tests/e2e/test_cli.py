"""The `train-tune` command as a user runs it: the README's example end to end on the embedded server,
Hydra's --help/--cfg/completion, the worker command, and bad input failing before anything starts."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port

README_EXAMPLE = [
    "experiment=bert_single", "model=bert_tiny", "dataset=bbc_news", "trainer.max_steps=200", "optim.lr=1e-3",
]


def train_tune(*args: str, cwd: Path, timeout: int = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["train-tune", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


@pytest.mark.e2e
def test_readme_example_trains_evaluates_and_keeps_history(tmp_path):
    run_root = tmp_path / "runs"
    done = train_tune(
        *README_EXAMPLE, f"run_root={run_root}", f"temporal.port={free_port()}", f"temporal.ui_port={free_port()}",
        cwd=tmp_path, timeout=1100,  # 200 steps beside another test process on a loaded 2-core machine
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "embedded Temporal server started at 127.0.0.1:" in output and "Web UI http://127.0.0.1:" in output
    assert "[train]  step" in output and "accuracy" in output

    result_file = next(tmp_path.glob("outputs/*/*/result.json"))
    result = json.loads(result_file.read_text())
    assert result["metrics"]["accuracy"] > 0.2 + 0.2, result["metrics"]  # 5 classes: chance is 0.2
    assert Path(result["best_checkpoint"]).is_file()
    assert result["train"]["global_step"] == 200
    assert len(result["predictions"]) == 2

    # the embedded server was stopped, its history kept in SQLite under the run root
    assert (run_root / "temporal.sqlite").is_file()
    assert not (run_root / "temporal.sqlite.server.json").exists()

    # a second run with the same dataset settings reuses the snapshot
    again = train_tune(
        "experiment=bert_single", "trainer.max_steps=10", f"run_root={run_root}",
        f"temporal.port={free_port()}", "temporal.ui=false", cwd=tmp_path,
    )
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    logged = Path(re.search(r"log written to (\S+)", again.stdout).group(1)).read_text()  # quiet: not on screen
    assert "(reused)" in logged, logged[-3000:]
    assert len([p for p in (run_root / "snapshots").iterdir() if not p.name.startswith(".")]) == 1  # (.lock files)


def test_help_lists_groups_and_commands(tmp_path):
    done = train_tune("--help", cwd=tmp_path)
    assert done.returncode == 0
    for group in ("model:", "dataset:", "trainer:", "optim:", "temporal:", "experiment:", "train-tune worker"):
        assert group in done.stdout
    assert "bert_tiny" in done.stdout and "minilm_l6" in done.stdout and "bbc_news" in done.stdout


def test_cfg_job_prints_the_composed_config(tmp_path):
    done = train_tune("experiment=bert_single", "optim.lr=3e-5", "--cfg", "job", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "lr: 3.0e-05" in done.stdout and "experiment_name: bert_single" in done.stdout
    assert not (tmp_path / "train-tune-runs").exists()


def test_tab_completion_queries(tmp_path):
    done = train_tune("-sc", "query=bash", cwd=tmp_path, env={"COMP_LINE": "train-tune model="})
    assert "model=bert_tiny" in done.stdout and "model=minilm_l6" in done.stdout


def test_worker_help(tmp_path):
    done = subprocess.run(["train-tune", "worker", "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and "queue=all|training|orchestration" in done.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["optim.lr=-1"], "optim.lr is -1.0, but must be > 0"),
        (["model=gpt7"], "gpt7"),
        (["trainer.max_steps=lots"], "trainer.max_steps"),
        (["dataset=csv", "dataset.data_files.train=missing.csv"], "dataset.data_files.train is 'missing.csv'"),
        (["worker", "queue=gpu"], "queue"),
        (["worker", "temporal.address=127.0.0.1:1", "queue=training"], "temporal.address is '127.0.0.1:1'"),
        (["+trainer.foo=1"], "trainer.foo is not a train-tune key"),
        (["~predict_texts"], "predict_texts was removed"),
        (["+new_key=1"], "new_key is not a train-tune key"),
        (["optim.lr=["], "the override 'optim.lr=[' does not parse"),
        (["--config-dir", "repo", "experiment=news"], "experiment/news.yaml:3:8: expected ',' or ']', but got ':'"),
    ],
)
def test_bad_input_fails_fast_and_starts_nothing(tmp_path, args, expected):
    (tmp_path / "repo" / "experiment").mkdir(parents=True)  # a user's config repo with a YAML syntax error
    (tmp_path / "repo" / "experiment" / "news.yaml").write_text(
        "# @package _global_\nexperiment_name: [unclosed\ntrainer:\n  max_steps: 3\n")
    done = train_tune(*args, f"run_root={tmp_path / 'runs'}", cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr  # bad input (README: exit codes)
    assert len((done.stdout + done.stderr).strip().splitlines()) == 1, done.stdout + done.stderr
    assert expected in done.stdout + done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "runs" / "temporal.sqlite").exists(), "no server (and no workflow) may start"


@pytest.mark.e2e
def test_remote_cluster_runner_only_submits_and_a_worker_serves(temporal_env, tmp_path, queues):
    """`temporal.address=...`: no embedded server, no in-process worker; `train-tune worker` does the work."""
    address = temporal_env.client.service_client.config.target_host
    shared = [
        f"temporal.address={address}", f"temporal.training_queue={queues.training}",
        f"temporal.orchestration_queue={queues.orchestration}", f"run_root={tmp_path / 'shared'}",
    ]
    worker_log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        ["train-tune", "worker", "temporal=remote", "queue=all", *shared],
        cwd=tmp_path, stdout=worker_log.open("w"), stderr=subprocess.STDOUT,
    )
    try:
        done = train_tune(
            "temporal=remote", *shared, "model=bert_tiny", "dataset.max_samples=200", "dataset.max_length=64",
            "trainer.max_steps=20", "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10",
            cwd=tmp_path, timeout=300,
        )
    finally:
        worker.terminate()
        worker.wait(30)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:] + worker_log.read_text()[-2000:]
    assert "embedded Temporal server" not in output
    assert "completed" in output
    assert "serving all queue(s)" in worker_log.read_text()
    assert not (tmp_path / "shared" / "temporal.sqlite").exists()
    assert list((tmp_path / "shared" / "checkpoints").glob("*/best.ckpt"))


@pytest.mark.e2e
def test_ladder_sweep_from_the_command_line_and_its_best_config_runs_as_is(tmp_path):
    common = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false",
              "dataset.max_samples=300", "dataset.max_length=64"]
    sweep_args = ["experiment=bert_sweep", "sampler=random", "n_trials=4", "ladder.eta=2", "ladder.rungs=[10,20]",
                  "trainer.max_steps=20", "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10"]
    done = train_tune(*sweep_args, *common, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "steps trained: 60 (every trial to the top rung: 80)" in output
    out = next(tmp_path.glob("outputs/*/*/sweep.json")).parent
    sweep = json.loads((out / "sweep.json").read_text())
    assert [t["state"] for t in sweep["trials"]].count("completed") == 2
    for name in ("optimization_history", "rungs", "learning_curves"):  # plots open: real PNG and HTML
        assert (out / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "plotly" in (out / "plots" / f"{name}.html").read_text()[:200000]
    rows = (out / "leaderboard.csv").read_text().splitlines()
    assert rows[0].startswith("rank,trial,state,top_step,val_loss,optim.lr") and len(rows) == 5
    # every validation metric per rung, and the winner's test metrics (its best checkpoint on the test split)
    assert "val_accuracy" in rows[0] and "val_macro_f1@20" in rows[0] and "test_accuracy" in rows[0]
    assert sweep["best_test"]["split"] == "test" and "test metrics" in done.stdout, output[-4000:]
    best = out / "best_config.yaml"

    # the same sweep again attaches to it (no second workflow); a changed one under the same name is
    # refused with the diff; --new starts it anyway
    again = train_tune(*sweep_args, *common, cwd=tmp_path)
    assert again.returncode == 0 and f"sweep {sweep['workflow_id']} exists (COMPLETED): attaching" in again.stdout, \
        (again.stdout + again.stderr)[-3000:]
    changed = train_tune(*sweep_args, "ladder.eta=3", *common, cwd=tmp_path)
    assert changed.returncode != 0
    message = changed.stdout + changed.stderr
    assert f"a sweep named 'bert_sweep' already exists ({sweep['workflow_id']})" in message
    assert "  ladder.eta: 2 -> 3" in message and "ladder.rungs" not in message, message
    forced = train_tune(*sweep_args, "ladder.eta=3", "--new", *common, cwd=tmp_path)
    assert forced.returncode == 0 and "started sweep bert_sweep-sha-" in forced.stdout, forced.stdout[-3000:]
    rerun = train_tune("--config-dir", str(best.parent), "--config-name", best.stem, *common[1:2],
                       "temporal.ui=false", cwd=tmp_path)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-4000:]
    assert "test metrics" in rerun.stdout and "global step 20" in rerun.stdout.replace("\n", " ")


@pytest.mark.parametrize(
    "args, expected",
    [
        (["experiment=bert_sweep", "ladder.eta=1"], "ladder.eta is 1, but must be >= 2"),
        (["experiment=bert_sweep", "ladder.rungs=[60,20,180]"], "ladder.rungs is [60, 20, 180]"),
        (["experiment=bert_sweep", "ladder.rungs=[30,90,360]"], "ladder top rung is 360 steps, but trainer.max_steps is 270"),
        (["experiment=bert_sweep", "search_space.params=[]"], "search_space.params is empty"),
        (["experiment=bert_sweep", "direction=up"], "direction is 'up'"),
        (["experiment=bert_sweep", "sampler=annealing"], "annealing"),
    ],
)
def test_bad_sweep_input_fails_before_anything_starts(tmp_path, args, expected):
    done = train_tune(*args, f"run_root={tmp_path / 'runs'}", cwd=tmp_path, timeout=120)
    assert done.returncode != 0
    assert expected in done.stdout + done.stderr, done.stdout + done.stderr
    assert not (tmp_path / "runs" / "temporal.sqlite").exists()


def start_sweep_runner(tmp_path: Path, *overrides: str) -> tuple[subprocess.Popen, Path]:
    """A 4-trial, eta-2 bert_sweep runner in the background (checkpoints and validation every 10 steps),
    its output in sweep.log."""
    log = tmp_path / "sweep.log"
    runner = subprocess.Popen(
        ["train-tune", "experiment=bert_sweep", "sampler=random", "n_trials=4", "ladder.eta=2",
         "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10", "dataset.max_samples=300",
         "dataset.max_length=64", *overrides],
        cwd=tmp_path, stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"},
    )
    return runner, log


def sweep_id_once_checkpointed(runner: subprocess.Popen, log: Path, runs: Path, limit_s: float = 600) -> str:
    """The sweep id the runner printed, once some trial has written its step-10 checkpoint (slow on a busy
    machine: under a load of 15 on 2 cores the sweep had not started after 120 s)."""
    import re
    import time

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = re.search(r"started sweep (\S+):", log.read_text())
        if found and list(runs.glob("checkpoints/*/trial*/step00000010.ckpt")):
            return found.group(1)
        assert runner.poll() is None, log.read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"no sweep checkpoint within {limit_s:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.mark.e2e
def test_sweep_pause_stop_and_results_from_other_processes(tmp_path):
    import signal as signals

    connection = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false"]
    runner, log = start_sweep_runner(tmp_path, "ladder.rungs=[400,4000]", "trainer.max_steps=4000", *connection)
    try:
        sweep_id = sweep_id_once_checkpointed(runner, log, tmp_path / "runs")
        done = train_tune("pause", sweep_id, *connection, cwd=tmp_path, timeout=120)
        assert done.returncode == 0 and "pause sent" in done.stdout, done.stdout + done.stderr
        paused = train_tune("status", sweep_id, "--once", *connection, cwd=tmp_path, timeout=300)
        assert f"LadderSweepWorkflow {sweep_id}: PAUSED" in paused.stdout, paused.stdout + paused.stderr
        # piped: a box-less table, and the summary line (4 trials x 400 steps, then 2 x 3600 more, planned)
        assert "4 trials: " in paused.stdout and "of 8,800 steps trained" in paused.stdout, paused.stdout
        assert not re.search("[\u2500-\u257f]", paused.stdout), paused.stdout
        low = train_tune("extend", sweep_id, "--rungs", "100", *connection, cwd=tmp_path, timeout=120)
        assert low.returncode != 0 and "above the current top rung (4000 steps)" in low.stdout + low.stderr
        more = train_tune("extend", sweep_id, "--trials", "2", *connection, cwd=tmp_path, timeout=120)
        assert more.returncode == 0 and "extended by 2 trials" in more.stdout, more.stdout + more.stderr
        for verb in (["stop"], ["resume"]):
            done = train_tune(*verb, sweep_id, *connection, cwd=tmp_path, timeout=120)
            assert done.returncode == 0 and f"{verb[0]} sent" in done.stdout, done.stdout + done.stderr
        bad = train_tune("stop", sweep_id, "--trial", "99", *connection, cwd=tmp_path, timeout=120)
        assert bad.returncode != 0 and "--trial is 99" in bad.stdout + bad.stderr
        runner.wait(300)
    finally:
        if runner.poll() is None:
            runner.send_signal(signals.SIGKILL)
            runner.wait()
    assert runner.returncode == 0, log.read_text()[-3000:]
    sweep = json.loads(next(tmp_path.glob("outputs/*/*/sweep.json")).read_text())
    kinds = [d["kind"] for d in sweep["decisions"]]
    assert "pause" in kinds and "resume" in kinds and "stop_sweep" in kinds and "extend" in kinds
    # stopped during the first rung: running segments finished it, nothing was promoted or started later
    assert all(t["steps_trained"] in (0, 400) for t in sweep["trials"]) and "promote" not in kinds


@pytest.mark.e2e
def test_sweep_runner_killed_then_status_reattaches_and_results_are_written(tmp_path):
    """The runner (and with it the embedded server) is SIGKILLed mid-sweep; `train-tune status` from a new
    process restarts the server from SQLite, serves the sweep to its end; `results` writes the files."""
    import signal as signals
    import time

    connection = [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false"]
    runner, log = start_sweep_runner(tmp_path, "ladder.rungs=[20,60]", "trainer.max_steps=60",
                                     "trainer.heartbeat_timeout_s=5", *connection)
    try:
        sweep_id = sweep_id_once_checkpointed(runner, log, tmp_path / "runs")
        runner.send_signal(signals.SIGKILL)
        runner.wait(30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    time.sleep(2)  # the server got SIGTERM from its dying parent
    status = train_tune("status", sweep_id, *connection, cwd=tmp_path, timeout=600)
    assert status.returncode == 0, (status.stdout + status.stderr)[-4000:]
    assert "COMPLETED" in status.stdout or "completed" in status.stdout
    results = train_tune("results", sweep_id, "--out", str(tmp_path / "report"), "--optuna-storage", "study.db",
                         *connection, cwd=tmp_path, timeout=300)
    assert results.returncode == 0, (results.stdout + results.stderr)[-4000:]
    sweep = json.loads((tmp_path / "report" / "sweep.json").read_text())
    assert sorted(t["number"] for t in sweep["trials"]) == [0, 1, 2, 3]
    assert [t["state"] for t in sweep["trials"]].count("completed") == 2
    # the same sweep as an Optuna study (`optuna-dashboard sqlite:///.../study.db`)
    assert f"open it with: optuna-dashboard sqlite:///{tmp_path / 'study.db'}" in results.stdout
    import optuna

    study = optuna.load_study(study_name=sweep_id, storage=f"sqlite:///{tmp_path / 'study.db'}")
    by_number = {t["number"]: t for t in sweep["trials"]}
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    assert sorted(t.state.name for t in study.trials) == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED"]
    for trial in study.trials:
        assert trial.params == by_number[trial.number]["params"]
        assert list(trial.intermediate_values.values()) == by_number[trial.number]["metrics"]
    again = train_tune("results", sweep_id, "--out", str(tmp_path / "report"), "--optuna-storage", "study.db",
                       *connection, cwd=tmp_path, timeout=300)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    assert again.returncode == 0 and len(optuna.load_study(study_name=sweep_id, storage=url).trials) == 4  # updated
    rung_results = [(d["trial"], d["rung"]) for d in sweep["decisions"] if d["kind"] == "rung_result"]
    assert len(rung_results) == len(set(rung_results)) == 6
    assert (tmp_path / "report" / "plots" / "rungs.png").is_file() and (tmp_path / "report" / "best_config.yaml").is_file()
