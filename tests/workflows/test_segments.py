"""Training in segments (what a promoted ladder trial does): the second segment continues the global
step and the LR schedule defined over the whole budget, from the first segment's checkpoint."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from activities.engine.checkpoint_files import resume_checkpoint
from activities.engine.fitting import fit
from activities.engine.schedule import warmup_decay
from activities.snapshot import build_snapshot
from runner.resolve import resolve_run
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.messages import SnapshotRequest, TrainRequest


def test_second_segment_resumes_step_and_schedule(run_root, tmp_path):
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=60",
                                        "optim.warmup_ratio=0.1"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    folder = tmp_path / "trial"

    def segment(stop_at: int):
        request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                               seed=run.seed, checkpoint_dir=str(folder), stop_at_step=stop_at)
        return fit(request, resume_checkpoint(folder)[0], lambda p: None, threading.Event(), 1)

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


def test_torn_and_altered_checkpoints_are_skipped_and_reported(run_root, tmp_path):
    """Each checkpoint has a sha256 beside it; resuming passes over a truncated and an altered one, falls
    back to the newest good one, and the result says which it skipped and why."""
    from activities.checkpoints import load_trained_classifier
    from activities.engine.checkpoint_files import checkpoint_problem, digest_path
    from workflows.payloads.errors import ConfigError

    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=30",
                                        "trainer.checkpoint_every_n_steps=10", "trainer.keep_last_checkpoints=3"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    folder = tmp_path / "trial"
    request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                           seed=run.seed, checkpoint_dir=str(folder), stop_at_step=30)
    fit(request, None, lambda p: None, threading.Event(), 1)
    names = sorted(p.name for p in folder.glob("step*.ckpt"))
    assert names == ["step00000010.ckpt", "step00000020.ckpt", "step00000030.ckpt"]
    assert all(digest_path(folder / n).is_file() and not checkpoint_problem(folder / n) for n in names)
    assert not list(folder.glob("*.tmp"))

    step30, step20 = folder / names[2], folder / names[1]
    step30.write_bytes(step30.read_bytes()[: step30.stat().st_size // 2])  # torn write
    data = bytearray(step20.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    step20.write_bytes(bytes(data))
    # a crash inside a later checkpoint write leaves a temporary file, or a checksum without its file:
    # neither is ever a resume candidate
    (folder / "step00000040.ckpt.tmp").write_bytes(step30.read_bytes()[:100])
    (folder / "step00000050.ckpt.sha256").write_text("0" * 64 + "  step00000050.ckpt\n")
    resume_from, skipped = resume_checkpoint(folder)
    assert resume_from == folder / names[0]
    assert [s.split(":")[0] for s in skipped] == [names[2], names[1]]
    assert all("does not match the recorded" in s for s in skipped)
    with pytest.raises(ConfigError, match="is unusable: sha256"):
        load_trained_classifier(run.model, str(step30), snapshot.label_names)

    request.stop_at_step = 40
    request.trainer.max_steps = 40
    result = fit(request, resume_from, lambda p: None, threading.Event(), 2, skipped)
    assert result.resumed_from_step == 10 and result.global_step == 40
    assert result.skipped_checkpoints == skipped


def test_segments_and_resumes_compute_exactly_the_uninterrupted_run(run_root, tmp_path):
    """10 steps, then resume to 30 (across the epoch boundary at 25, with validations at 10, 20, 30), gives
    bit-identical weights and optimiser state to 30 steps in one go: the data order continues mid-epoch,
    dropout's RNG is restored from the checkpoint, and validation leaves the global RNG alone."""
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=30",
                                        "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))

    def train(folder: Path, stops: list[int]) -> dict:
        for stop in stops:
            request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                                   seed=run.seed, checkpoint_dir=str(folder), stop_at_step=stop)
            result = fit(request, resume_checkpoint(folder)[0], lambda p: None, threading.Event(), 1)
        return torch.load(result.last_checkpoint, map_location="cpu", weights_only=True)

    once = train(tmp_path / "once", [30])
    pieces = train(tmp_path / "pieces", [10, 30])
    assert once["global_step"] == pieces["global_step"] == 30
    for name, tensor in once["state_dict"].items():
        assert torch.equal(tensor, pieces["state_dict"][name]), name
    moments = zip(once["optimizer_states"][0]["state"].values(), pieces["optimizer_states"][0]["state"].values(), strict=False)
    assert all(torch.equal(a["exp_avg"], b["exp_avg"]) for a, b in moments)


def test_a_worker_can_show_lightnings_progress_bar(run_root, tmp_path, capfd):
    """`train-tune worker progress_bar=true`: each training draws Lightning's bar (off by default: the
    runner's own table shows progress)."""
    from activities.engine.progress_bar import PROGRESS_BAR, show_progress_bar

    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=6",
                                        "trainer.val_every_n_steps=3"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                           seed=run.seed, checkpoint_dir=str(tmp_path / "quiet"))
    assert PROGRESS_BAR.on is False
    fit(request, None, lambda p: None, threading.Event(), 1)
    quiet = capfd.readouterr()
    assert "Epoch 0" not in quiet.out + quiet.err
    show_progress_bar(True)
    try:
        request.checkpoint_dir = str(tmp_path / "bar")
        fit(request, None, lambda p: None, threading.Event(), 1)
    finally:
        show_progress_bar(False)
    drawn = capfd.readouterr()
    assert "Epoch 0" in drawn.out + drawn.err and "6/6" in drawn.out + drawn.err
