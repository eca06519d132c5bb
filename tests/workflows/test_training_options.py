"""The training options of issue 23 in real (short) bert_tiny trainings on BBC News: gradient accumulation
counts optimiser steps and resumes exactly, early stopping ends a fit (and survives a resume), class
weights change the training loss, and a frozen encoder stays put for its steps."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest
import torch

from activities.engine.checkpoint_files import resume_checkpoint
from activities.engine.fitting import fit
from activities.snapshot import build_snapshot
from runner.resolve import resolve_run
from tests.conftest import SMALL_RUN, compose_config
from workflows.layout import LOGS
from workflows.payloads.messages import SnapshotRequest, TrainRequest, TrainResult


def setup(run_root, *overrides):
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", *overrides))
    return run, build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))


def train(run, snapshot, folder: Path, stops: list[int]) -> TrainResult:
    for stop in stops:
        request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                               seed=run.seed, checkpoint_dir=str(folder), stop_at_step=stop)
        result = fit(request, resume_checkpoint(folder)[0], lambda p: None, threading.Event(), 1)
    return result


def validated_steps(folder: Path) -> list[int]:
    steps = set()
    for log in folder.joinpath(LOGS).rglob("metrics.csv"):
        with log.open() as f:
            steps |= {int(row["step"]) for row in csv.DictReader(f) if row.get("val_loss")}
    return sorted(steps)


def test_accumulation_counts_optimiser_steps_and_resumes_exactly(run_root, tmp_path):
    """2 batches a step, 25 batches an epoch (13 steps, the last one batch long): 30 optimiser steps take
    2 x 25 + 8 batches, validations fall on steps 10, 20, 30, and training in segments (one ending exactly at
    the epoch's end, step 13) computes bit for bit what one fit computes."""
    run, snapshot = setup(run_root, "trainer.accumulate_grad_batches=2", "trainer.max_steps=30")
    assert snapshot.split_sizes["train"] == 400
    once = train(run, snapshot, tmp_path / "once", [30])
    pieces = train(run, snapshot, tmp_path / "pieces", [13, 20, 30])
    assert once.global_step == pieces.global_step == 30
    a = torch.load(once.last_checkpoint, map_location="cpu", weights_only=True)
    b = torch.load(pieces.last_checkpoint, map_location="cpu", weights_only=True)
    batches = a["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["processed"]
    assert batches == 2 * 25 + 8
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name
    # Lightning's CSV row of a validation carries the step count before the step that just ended (as without
    # accumulation: validations after steps 10, 20 and 30 are rows 9, 19 and 29)
    assert validated_steps(tmp_path / "once") == [9, 19, 29]
    assert sorted(p.name for p in (tmp_path / "once").glob("step*.ckpt"))[-2:] == ["step00000020.ckpt",
                                                                                  "step00000030.ckpt"]


def test_early_stopping_ends_the_fit_and_its_patience_survives_a_resume(run_root, tmp_path):
    """min_delta 10 makes no later validation an improvement: with patience 1 the fit stops at the second
    validation (step 10 of 30). Resumed after the first (step 5), it still stops at 10: the best score came
    back with the checkpoint (a fresh callback would take step 10's value as its first best)."""
    run, snapshot = setup(run_root, "trainer.val_every_n_steps=5", "trainer.checkpoint_every_n_steps=5",
                          "trainer.early_stopping_patience=1", "trainer.early_stopping_min_delta=10")
    whole = train(run, snapshot, tmp_path / "whole", [30])
    assert whole.global_step == 10 and whole.stopped_early and whole.final_score is not None
    resumed = train(run, snapshot, tmp_path / "resumed", [5, 30])
    assert resumed.resumed_from_step == 5 and resumed.global_step == 10 and resumed.stopped_early
    # a retry from the stopped checkpoint trains no further
    again = train(run, snapshot, tmp_path / "whole", [30])
    assert again.global_step == 10 and again.steps_this_attempt == 0 and again.stopped_early


def test_class_weights_change_the_training_loss_only(run_root):
    from activities.engine.weighted_loss import weigh_training_loss
    from activities.models import load_classifier

    run, snapshot = setup(run_root, "trainer.class_weights=auto")
    model = load_classifier(run.model, len(snapshot.label_names), snapshot.label_names)
    torch.manual_seed(0)
    batch = {"input_ids": torch.randint(1000, 2000, (8, 16)), "labels": torch.tensor([0, 1, 2, 3, 4, 0, 0, 1])}
    model.eval()  # no dropout, so the two forwards compare
    plain = model(**batch).loss
    weigh_training_loss(model, run.trainer.class_weights, snapshot)
    assert torch.equal(model(**batch).loss, plain)  # evaluation (val_loss) stays unweighted
    model.train()
    for module in model.modules():  # training mode for the hook, without dropout's noise
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    weighted = model(**batch).loss.item()
    counts = [snapshot.class_counts["train"][name] for name in snapshot.label_names]
    weights = torch.tensor([1 / c for c in counts])
    weights = weights * len(weights) / weights.sum()
    expected = torch.nn.functional.cross_entropy(model(**batch).logits, batch["labels"], weight=weights)
    assert weighted == pytest.approx(expected.item(), rel=1e-5) and weighted != pytest.approx(plain.item(), rel=1e-4)


def test_freeze_steps_keep_the_encoder_still_then_train_it(run_root, tmp_path):
    """freeze_steps 4: after step 4 (and after a resume at step 2) the encoder is the initial one while the
    head has moved; by step 8 the encoder has moved too."""
    run, snapshot = setup(run_root, "model.freeze_steps=4", "trainer.max_steps=8", "trainer.val_every_n_steps=4",
                          "trainer.checkpoint_every_n_steps=2", "trainer.keep_last_checkpoints=5")
    from activities.engine.rng import TrainingRng
    from activities.models import load_classifier

    initial = TrainingRng().seeded(run.seed, lambda: load_classifier(
        run.model, len(snapshot.label_names), snapshot.label_names)).state_dict()
    train(run, snapshot, tmp_path / "t", [2, 8])
    at4 = torch.load(tmp_path / "t" / "step00000004.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    at8 = torch.load(tmp_path / "t" / "step00000008.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    encoder = [name for name in initial if name.startswith("bert.")]
    assert encoder and all(torch.equal(at4[f"model.{name}"], initial[name]) for name in encoder)
    assert not torch.equal(at4["model.classifier.weight"], initial["classifier.weight"])
    assert not torch.equal(at8["model.bert.encoder.layer.0.output.dense.weight"],
                           initial["bert.encoder.layer.0.output.dense.weight"])


async def test_a_ladder_trial_that_stops_early_completes_at_that_step(temporal_env, run_root, queues):
    """Rungs 15 and 30; early stopping ends every trial at step 10, inside its first rung: each trial is
    completed there (its result at step 10, no retry, no failure, no promotion), and the sweep ends."""
    from temporalio.worker import Replayer

    from runner.worker import running_workers
    from workflows.coordinator import CoordinatorWorkflow
    from workflows.ladder_sweep import LadderSweepWorkflow
    from workflows.payloads.specs import ParamSpec, SamplerSpec
    from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult
    from workflows.train_eval import TrainEvalWorkflow

    base, _ = resolve_run(compose_config(
        *SMALL_RUN, f"run_root={run_root}", "trainer.val_every_n_steps=5", "trainer.checkpoint_every_n_steps=5",
        "trainer.early_stopping_patience=1", "trainer.early_stopping_min_delta=10"))
    base.queues = queues
    sweep = LadderSweepInput(name="early", base=base, sampler=SamplerSpec(name="random", seed=3), n_trials=2,
                             rungs=[15, 30], eta=2, parallelism=2,
                             space=[ParamSpec(key="optim.lr", type="float", low=1e-4, high=3e-3, log=True)])
    client = temporal_env.client
    async with running_workers(client, queues, max_concurrent_training=2):
        handle = await client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"early-{queues.training}",
                                             task_queue=queues.orchestration)
        result: LadderSweepResult = await handle.result()
    assert [t.state for t in result.trials] == ["completed", "completed"]
    assert all(t.rung_steps == [10] and t.rung == 0 and t.reason.startswith("early stopping at step 10")
               for t in result.trials)
    assert all(t.resumed_from_steps == [0] and not t.error for t in result.trials)
    assert result.total_steps == 20 and result.best_trial in (0, 1)
    history = await handle.fetch_history()
    replay = await Replayer(workflows=[LadderSweepWorkflow, TrainEvalWorkflow, CoordinatorWorkflow]).replay_workflow(history)
    assert replay.replay_failure is None
