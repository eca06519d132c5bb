"""What a model costs (`trainer.measure`, activities/engine/callbacks/cost_metrics.py), measured by a real
training beside its validation metrics: latency per sample, parameter count, training time summed over
segments (kept in the checkpoint), peak memory."""

from __future__ import annotations

import threading

import pytest
import torch

from activities.engine.callbacks.cost_metrics import CostMetrics
from activities.engine.checkpoint_files import resume_checkpoint
from activities.engine.fitting import fit
from activities.models import load_classifier
from activities.snapshot import build_snapshot
from runner.resolve import config_hash, resolve_run, to_plain
from runner.sweep_config import resolve_sweep
from runner.sweep_session import sweep_identity
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import SnapshotRequest, TrainRequest

MEASURE = "trainer.measure=[latency_ms,param_count,train_seconds,peak_memory_mb]"


def test_a_training_measures_what_its_model_costs_at_each_rung(run_root, tmp_path):
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=20", MEASURE,
                                        "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    folder = tmp_path / "trial"
    results, carried = [], []
    for stop_at in (10, 20):  # two segments: the second resumes from the first's checkpoint
        request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                               seed=run.seed, checkpoint_dir=str(folder), stop_at_step=stop_at)
        resume = resume_checkpoint(folder)[0]
        carried.append(0.0 if resume is None else trained_seconds_in(resume))
        results.append(fit(request, resume, lambda p: None, threading.Event(), 1))
    first, second = (r.val_metrics for r in results)
    for metrics in (first, second):
        assert {"val_loss", "latency_ms", "param_count", "train_seconds", "peak_memory_mb"} <= set(metrics)
        assert 0 < metrics["latency_ms"] < 10_000 and metrics["peak_memory_mb"] > 10
    model = load_classifier(run.model, len(snapshot.label_names), snapshot.label_names)
    assert first["param_count"] == second["param_count"] == sum(p.numel() for p in model.parameters())
    # the first segment's time is kept in its checkpoint, and the second segment's time adds to it
    assert carried[0] == 0.0 and 0 < carried[1] <= first["train_seconds"]
    assert second["train_seconds"] > carried[1] and second["train_seconds"] > first["train_seconds"]


def trained_seconds_in(checkpoint) -> float:
    """The training time the CostMetrics callback wrote into a step checkpoint."""
    states = torch.load(checkpoint, map_location="cpu", weights_only=False)["callbacks"]
    return next(state["train_seconds"] for key, state in states.items() if key.startswith("CostMetrics"))


def test_the_training_time_is_resumed_from_the_checkpoint_and_keeps_counting():
    meter = CostMetrics(["train_seconds"])
    meter.load_state_dict({"train_seconds": 1000.0})
    meter.on_train_start(None, None)
    assert 1000.0 < meter.elapsed() < 1010.0
    assert meter.state_dict()["train_seconds"] >= meter.trained_s == 1000.0


def test_nothing_is_measured_unless_asked(run_root, tmp_path):
    run, plain = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=10",
                                            "trainer.val_every_n_steps=10", "trainer.checkpoint_every_n_steps=10"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                           seed=run.seed, checkpoint_dir=str(tmp_path / "t"), stop_at_step=10)
    result = fit(request, None, lambda p: None, threading.Event(), 1)
    assert sorted(result.val_metrics) == ["val_accuracy", "val_loss", "val_macro_f1"]
    # an empty `measure` leaves a config's identity as it was before the key existed
    without = {**plain, "trainer": {k: v for k, v in plain["trainer"].items() if k != "measure"}}
    assert config_hash(plain) == config_hash(without)
    measured = to_plain(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=10", MEASURE))
    assert config_hash(measured) != config_hash(plain)
    sweep_plain = to_plain(compose_config("experiment=bert_sweep", f"run_root={run_root}"))
    sweep = resolve_sweep(*resolve_run(compose_config("experiment=bert_sweep", f"run_root={run_root}")))
    older = {**sweep_plain, "trainer": {k: v for k, v in sweep_plain["trainer"].items() if k != "measure"}}
    assert sweep_identity(sweep, sweep_plain, "") == sweep_identity(sweep, older, "")


def test_an_unknown_measure_is_refused_naming_it(run_root):
    with pytest.raises(ConfigError, match="trainer.measure has 'flops', but may only name: latency_ms"):
        resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.measure=[latency_ms,flops]"))
