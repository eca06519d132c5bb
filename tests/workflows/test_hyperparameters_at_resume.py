"""Population-based training on the engine, real tiny-BERT training: a fit resumed with other `optim`
values trains with them from the resume step on, with the LR schedule continuing (explore), and a trial
that takes over another trial's checkpoint (exploit, `copy_checkpoint`) continues exactly as that trial
would have."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from activities.copy_checkpoint import copy_step_checkpoint
from activities.engine import fitting
from activities.engine.callbacks.apply_hyperparameters import ApplyHyperparameters
from activities.engine.checkpoint_files import resume_checkpoint
from activities.engine.schedule import warmup_decay
from activities.snapshot import build_snapshot
from runner.resolve import resolve_run
from tests.conftest import SMALL_RUN, compose_config
from tests.workflows.test_rng_isolation import Record
from workflows.layout import CHECKPOINTS
from workflows.payloads.messages import CopyCheckpointRequest, SnapshotRequest, TrainRequest, TrainResult
from workflows.payloads.specs import OptimSpec

BUDGET = 60
"""trainer.max_steps: the schedule spans it; the segments below stop at 20 and 40."""


class Probe(ApplyHyperparameters):
    """ApplyHyperparameters that also records what each optimiser step is about to use."""

    seen: dict[int, list[dict]] = {}
    base_lrs: dict[int, list[float]] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        groups = trainer.optimizers[0].param_groups
        Probe.seen[trainer.global_step] = [{k: g[k] for k in ("lr", "initial_lr", "weight_decay", "betas", "eps")}
                                           for g in groups]
        Probe.base_lrs[trainer.global_step] = list(trainer.lr_scheduler_configs[0].scheduler.base_lrs)


@pytest.fixture
def training(run_root, monkeypatch):
    """`train(folder, stop, optim=None) -> TrainResult`: one segment of a real fit (resuming from the
    folder's newest checkpoint), the run's own `optim` unless given; the probe records each step."""
    monkeypatch.setattr(fitting, "ApplyHyperparameters", Probe)
    Probe.seen, Probe.base_lrs = {}, {}
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", f"trainer.max_steps={BUDGET}",
                                        "optim.warmup_ratio=0.1", "optim.lr=3e-4", "optim.weight_decay=0.01",
                                        "model.dropout=0.1", "seed=3"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))

    def train(folder: Path, stop: int, optim: OptimSpec | None = None, record: Record | None = None) -> TrainResult:
        request = TrainRequest(model=run.model, optim=optim or run.optim, trainer=run.trainer, snapshot=snapshot,
                               seed=run.seed, checkpoint_dir=str(folder), stop_at_step=stop)
        return fitting.fit(request, resume_checkpoint(folder)[0], record or (lambda p: None), threading.Event(), 1)

    train.optim = run.optim  # type: ignore[attr-defined]
    return train


def state(result: TrainResult) -> dict:
    return torch.load(result.last_checkpoint, map_location="cpu", weights_only=True)


def test_a_resume_with_new_hyperparameters_trains_with_them_from_the_resume_step(training, tmp_path, caplog):
    folder = tmp_path / "trial"
    first = training.optim
    training(folder, 20)
    assert all(groups[0]["lr"] == pytest.approx(first.lr * warmup_decay(s, 6, BUDGET, "linear"))
               for s, groups in Probe.seen.items())
    Probe.seen.clear()

    explored = replace(first, lr=1e-4, weight_decay=0.1, betas=[0.8, 0.99], eps=1e-6, warmup_ratio=0.2,
                       scheduler="cosine")
    with caplog.at_level(logging.INFO, logger="activities.engine.callbacks.apply_hyperparameters"):
        result = training(folder, 40, explored)
    assert result.resumed_from_step == 20 and result.global_step == 40
    assert sorted(Probe.seen) == list(range(20, 40))
    for step, (decaying, fixed) in Probe.seen.items():
        # the new lr times the new schedule's multiplier at this global step: the schedule continues
        lr = pytest.approx(explored.lr * warmup_decay(step, 12, BUDGET, "cosine"), rel=1e-12)
        assert decaying["lr"] == lr and fixed["lr"] == lr, step
        assert decaying["initial_lr"] == fixed["initial_lr"] == explored.lr
        assert decaying["weight_decay"] == 0.1 and fixed["weight_decay"] == 0.0  # biases, LayerNorm: never
        assert tuple(decaying["betas"]) == tuple(fixed["betas"]) == (0.8, 0.99)
        assert decaying["eps"] == fixed["eps"] == 1e-6
        assert Probe.base_lrs[step] == [explored.lr, explored.lr]
    saved = state(result)
    assert saved["lr_schedulers"][0]["base_lrs"] == [explored.lr, explored.lr]
    assert [g["weight_decay"] for g in saved["optimizer_states"][0]["param_groups"]] == [0.1, 0.0]
    changes = [r.getMessage() for r in caplog.records if "new hyperparameters" in r.getMessage()]
    assert len(changes) == 1 and "resumed at step 20" in changes[0] and "optim.lr 0.0003 -> 0.0001" in changes[0]
    assert "optim.weight_decay 0.01 -> 0.1" in changes[0] and "optim.betas (0.9, 0.999) -> (0.8, 0.99)" in changes[0]

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="activities.engine.callbacks.apply_hyperparameters"):
        training(folder, 45, explored)  # the same values again: nothing to change, nothing said
    assert not [r for r in caplog.records if "new hyperparameters" in r.getMessage()]


def test_an_exploited_checkpoint_continues_as_its_source_would_have(training, tmp_path):
    """Trial 2 takes over trial 1's step-20 checkpoint in its own folder: resumed with trial 1's values it
    computes, bit for bit, what trial 1 computes from step 20 (the copy carries weights, optimiser, schedule,
    global step and the RNG states); its own earlier training counts for nothing."""
    root = tmp_path / "run_root"
    source, target = root / CHECKPOINTS / "sweep" / "trial1", root / CHECKPOINTS / "sweep" / "trial2"
    optim = training.optim
    training(source, 20)
    training(target, 30, replace(optim, lr=1e-3))  # the target's own weights, further along

    copied = copy_step_checkpoint(CopyCheckpointRequest(run_root=str(root), source_dir=str(source),
                                                        target_dir=str(target), step=20))
    assert resume_checkpoint(target)[0] == Path(copied.checkpoint)
    one, other = Record(), Record()
    continued = training(source, 40, record=one)
    exploited = training(target, 40, record=other)

    assert exploited.resumed_from_step == 20 and exploited.global_step == 40
    assert one.losses == other.losses and sorted(one.losses) == list(range(21, 41))  # == on floats: bit for bit
    weights = state(continued)["state_dict"], state(exploited)["state_dict"]
    assert all(torch.equal(tensor, weights[1][name]) for name, tensor in weights[0].items())
    # what the target's segment reports lies in its own folder
    assert Path(exploited.last_checkpoint).parent == target and Path(exploited.best_checkpoint).parent == target
