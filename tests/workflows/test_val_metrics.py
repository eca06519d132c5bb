"""Every validation metric of a training segment (what a ladder rung records): loss, accuracy and macro-F1
at the segment's last step, equal to what `evaluate` computes on the validation split from that step's
checkpoint (the same maths as the test metrics, `activities.metrics`)."""

from __future__ import annotations

import threading

import pytest

from activities.engine.checkpoint_files import resume_checkpoint
from activities.engine.fitting import fit
from activities.evaluate import run_evaluation
from activities.snapshot import build_snapshot
from runner.resolve import resolve_run
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.messages import EvaluateRequest, SnapshotRequest, TrainRequest


def test_a_segment_reports_every_validation_metric_at_its_last_step(run_root, tmp_path):
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=30",
                                        "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    folder = tmp_path / "trial"

    def segment(stop_at: int):
        request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                               seed=run.seed, checkpoint_dir=str(folder), stop_at_step=stop_at)
        return fit(request, resume_checkpoint(folder)[0], lambda p: None, threading.Event(), 1)

    # 10: a periodic validation at the last step; 15: the segment ends between validations and validates there
    for stop_at in (10, 15):
        result = segment(stop_at)
        assert sorted(result.val_metrics) == ["val_accuracy", "val_loss", "val_macro_f1"]
        assert result.val_metrics["val_loss"] == result.final_score
        evaluated = run_evaluation(EvaluateRequest(model=run.model, snapshot=snapshot, checkpoint=result.last_checkpoint,
                                                   split="validation", batch_size=run.trainer.eval_batch_size))
        assert result.val_metrics["val_accuracy"] == pytest.approx(evaluated.metrics["accuracy"], abs=1e-6)
        assert result.val_metrics["val_macro_f1"] == pytest.approx(evaluated.metrics["macro_f1"], abs=1e-6)
        assert result.val_metrics["val_loss"] == pytest.approx(evaluated.metrics["loss"], rel=1e-4)


def test_a_training_monitors_macro_f1_and_keeps_its_best_checkpoint(run_root, tmp_path):
    """`trainer.monitor=val_macro_f1` (logged by a callback, not the module): the rung metric is the F1, and
    the best checkpoint is the validation with the highest F1 (`monitor_mode=max`)."""
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=20",
                                        "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10",
                                        "trainer.monitor=val_macro_f1", "trainer.monitor_mode=max"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    folder = tmp_path / "trial"
    scores = []
    for stop_at in (10, 20):
        request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                               seed=run.seed, checkpoint_dir=str(folder), stop_at_step=stop_at)
        result = fit(request, resume_checkpoint(folder)[0], lambda p: None, threading.Event(), 1)
        assert result.monitor == "val_macro_f1"
        assert result.final_score == result.val_metrics["val_macro_f1"]
        scores.append(result.final_score)
    assert result.best_score == pytest.approx(max(scores))
    evaluated = run_evaluation(EvaluateRequest(model=run.model, snapshot=snapshot, checkpoint=result.best_checkpoint,
                                               split="validation", batch_size=run.trainer.eval_batch_size))
    assert evaluated.metrics["macro_f1"] == pytest.approx(max(scores), abs=1e-6)
