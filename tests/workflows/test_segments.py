"""Training in segments (what a promoted ladder trial does): the second segment continues the global
step and the LR schedule defined over the whole budget, from the first segment's checkpoint."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from activities.lightning_train import fit, warmup_decay
from activities.snapshot import build_snapshot
from activities.train import resume_checkpoint
from runner.resolve import resolve_run
from tests.conftest import SMALL_RUN, compose_config
from workflows.messages import SnapshotRequest, TrainRequest


def test_second_segment_resumes_step_and_schedule(run_root, tmp_path):
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=60",
                                        "optim.warmup_ratio=0.1"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    folder = tmp_path / "trial"

    def segment(stop_at: int):
        request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                               seed=run.seed, checkpoint_dir=str(folder), stop_at_step=stop_at)
        return fit(request, resume_checkpoint(folder, None), lambda p: None, threading.Event(), 1)

    first = segment(20)
    assert first.global_step == 20 and first.resumed_from_step == 0
    second = segment(40)
    assert second.resumed_from_step == 20 and second.global_step == 40 and second.steps_this_attempt == 20

    state = torch.load(Path(second.last_checkpoint), map_location="cpu", weights_only=True)
    assert state["global_step"] == 40
    lr = state["lr_schedulers"][0]["_last_lr"][0]
    # the schedule spans the 60-step budget: at step 40 the LR is 1/3 of the way down from the peak,
    # not 0 as a schedule over the 40 steps trained so far would give
    assert lr == pytest.approx(run.optim.lr * warmup_decay(40, 6, 60, "linear"))
    assert lr > 0.3 * run.optim.lr
