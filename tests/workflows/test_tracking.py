"""Experiment tracking through Lightning loggers chosen by `logger=`: metrics land per trial and per rung
(segment) in TensorBoard event files and in MLflow (a SQLite store under the run root, and a real MLflow
tracking server on loopback started and stopped by the test)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from activities.engine.fitting import fit
from activities.snapshot import build_snapshot
from runner.resolve import resolve_run
from tests.conftest import SMALL_RUN, compose_config, free_port
from workflows.payloads.messages import SnapshotRequest, TrainRequest


def trial_segments(tmp_path: Path, *overrides: str):
    """Two rung segments (to 10, then to 20) of trial 3 of a sweep, with the given logger settings."""
    run_root = tmp_path / "runs"
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=20",
                                        "trainer.val_every_n_steps=5", "trainer.checkpoint_every_n_steps=5",
                                        *overrides))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    from activities.engine.checkpoint_files import resume_checkpoint

    folder = run_root / "checkpoints" / "sweep-sha-ab12" / "trial3"
    for stop_at in (10, 20):
        request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot, seed=0,
                               checkpoint_dir=str(folder), stop_at_step=stop_at, run_root=run.run_root,
                               logger=run.logger)
        fit(request, resume_checkpoint(folder)[0], lambda p: None, threading.Event(), 1)
    return run, run_root, folder


def test_tensorboard_gets_each_rung_of_each_trial(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_root, folder = trial_segments(tmp_path, "logger=tensorboard")
    base = run_root / "tensorboard" / "sweep-sha-ab12" / "trial3"
    assert sorted(p.name for p in base.iterdir()) == ["to10-attempt1", "to20-attempt1"]
    steps = {}
    for segment in ("to10-attempt1", "to20-attempt1"):
        events = EventAccumulator(str(base / segment))
        events.Reload()
        assert {"train_loss", "val_loss", "val_accuracy"} <= set(events.Tags()["scalars"])
        steps[segment] = [e.step for e in events.Scalars("val_loss")]
    assert max(steps["to10-attempt1"]) <= 10 < min(steps["to20-attempt1"]), steps  # the second rung goes on
    assert (folder / "logs" / "to20-attempt1" / "metrics.csv").is_file(), "the CSV log is always written"


def _mlflow_runs(uri: str, experiment: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment} at {uri}"
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])
    return client, runs


def _check_mlflow(uri: str, run) -> None:
    client, found = _mlflow_runs(uri, "sweep-sha-ab12")
    [parent] = [r for r in found if r.data.tags.get("train_tune.kind") == "group"]
    [trial] = [r for r in found if r.data.tags.get("train_tune.kind") == "trial"]
    assert trial.data.tags["mlflow.parentRunId"] == parent.info.run_id and trial.info.run_name == "sweep-sha-ab12/trial3"
    assert trial.data.tags["train_tune.global_step"] == "20" and "val_loss" in trial.data.metrics
    runs = [r for r in found if r.data.tags.get("train_tune.kind") == "segment"]
    assert [r.info.run_name for r in runs] == ["sweep-sha-ab12/trial3/to10-attempt1",
                                              "sweep-sha-ab12/trial3/to20-attempt1"]
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {trial.info.run_id}
    for r, stop_at in zip(runs, (10, 20), strict=False):
        assert r.data.tags["train_tune.trial"] == "3" and r.data.tags["train_tune.stop_at_step"] == str(stop_at)
        assert float(r.data.params["optim.lr"]) == run.optim.lr and r.data.params["model"] == run.model.name
        history = client.get_metric_history(r.info.run_id, "val_loss")
        assert history and max(m.step for m in history) <= stop_at
        assert "train_loss" in r.data.metrics and "val_accuracy" in r.data.metrics


def test_mlflow_default_store_is_sqlite_under_the_run_root(tmp_path):
    pytest.importorskip("mlflow")
    run, run_root, _ = trial_segments(tmp_path, "logger=mlflow")
    assert (run_root / "mlflow.db").is_file()
    _check_mlflow(f"sqlite:///{run_root / 'mlflow.db'}", run)


@pytest.mark.e2e
def test_mlflow_tracking_server_on_loopback(tmp_path):
    pytest.importorskip("mlflow")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--default-artifact-root",
         str(tmp_path / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "mlflow-server.log", "wb"), start_new_session=True,
    )
    try:
        import urllib.request

        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, \
                    (tmp_path / "mlflow-server.log").read_text()[-2000:]
                time.sleep(0.5)
        uri = f"http://127.0.0.1:{port}"
        run, _, _ = trial_segments(tmp_path, "logger=mlflow", f"logger.tracking_uri={uri}")
        _check_mlflow(uri, run)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_trial_hyperparameters_are_logged_as_params(tmp_path):
    from activities.trackers import hyperparameters, segment_names

    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={tmp_path}", "optim.lr=0.002"))
    request = TrainRequest(model=run.model, optim=dataclasses.replace(run.optim), trainer=run.trainer,
                           snapshot=None, seed=7, checkpoint_dir=str(tmp_path / "checkpoints" / "s" / "trial0"),
                           stop_at_step=30, run_root=str(tmp_path))
    assert segment_names(request, 30, 2) == ("s/trial0", "to30-attempt2")
    params = hyperparameters(request)
    assert params["optim.lr"] == 0.002 and params["seed"] == 7 and params["trainer.batch_size"] == run.trainer.batch_size


def test_wandb_offline_run_files_hold_metrics_and_config(tmp_path):
    pytest.importorskip("wandb")
    from tests.support.wandb_records import settled_run

    run_root = tmp_path / "runs"
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=10",
                                        "trainer.val_every_n_steps=5", "trainer.checkpoint_every_n_steps=5",
                                        "logger=wandb", "optim.lr=0.002"))
    assert run.logger.mode == "offline" and run.logger.project == "train-tune"
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    folder = run_root / "checkpoints" / "run-wb"
    request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot, seed=0,
                           checkpoint_dir=str(folder), run_root=run.run_root, logger=run.logger)
    result = fit(request, None, lambda p: None, threading.Event(), 1)

    files = list((run_root / "wandb" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1, list(run_root.rglob("*"))
    recorded = settled_run(files[0], lambda run: "name" in run and run["summary"].get("global_step") == 10)
    assert recorded["name"] == "run-wb/attempt1" and recorded["group"] == "run-wb" and recorded["job_type"] == "run"
    assert recorded["project"] == "train-tune"
    assert recorded["config"]["optim.lr"] == 0.002 and recorded["config"]["model"] == run.model.name
    val = [row for row in recorded["history"] if "val_loss" in row]
    assert len(val) >= 2 and val[-1]["val_loss"] == pytest.approx(result.final_score), val
    assert any("train_loss" in row for row in recorded["history"])
    summary = recorded["summary"]
    assert summary["global_step"] == 10 and summary["best_checkpoint"] == result.best_checkpoint
    assert summary["val_loss"] == pytest.approx(result.final_score)
