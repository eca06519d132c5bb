"""A training split into segments at epoch boundaries computes, bit for bit, what one straight training
computes: the same loss at every step, the same validations and the same final weights. Both ways a
segment can end on an epoch's last batch are covered: a checkpoint written after the fit ended (the rung
step is not a multiple of `checkpoint_every_n_steps`) and one `ModelCheckpoint` wrote at that batch's end."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from activities.engine.checkpoint_files import resume_checkpoint
from activities.engine.fitting import fit
from activities.snapshot import build_snapshot
from runner.resolve import resolve_run
from tests.conftest import SMALL_RUN, compose_config
from tests.workflows.test_rng_isolation import Record, validations
from workflows.payloads.messages import SnapshotRequest, TrainRequest

BATCH = 16


def test_segments_ending_at_epoch_boundaries_equal_one_straight_training(run_root, tmp_path):
    run, _ = resolve_run(compose_config(
        *SMALL_RUN, f"run_root={run_root}", "dataset.max_samples=200", f"trainer.batch_size={BATCH}",
        "trainer.max_steps=30", "model.dropout=0.2", "trainer.val_every_n_steps=13",
        "trainer.checkpoint_every_n_steps=26", "seed=5"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    epoch = -(-snapshot.split_sizes["train"] // BATCH)
    assert epoch == 13, snapshot.split_sizes  # the segment ends below are epoch ends

    def training(folder: Path, stops: list[int]) -> tuple[Record, object]:
        record, result = Record(), None
        for stop in stops:
            request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                                   seed=run.seed, checkpoint_dir=str(folder), stop_at_step=stop)
            result = fit(request, resume_checkpoint(folder)[0], record, threading.Event(), 1)
        return record, result

    straight, straight_result = training(tmp_path / "straight", [30])
    # 13: saved after the fit ended (13 is not a multiple of 26); 26: saved by ModelCheckpoint at the batch's end
    segmented, segmented_result = training(tmp_path / "segments", [epoch, 2 * epoch, 30])
    assert Path(segmented_result.last_checkpoint).parent.joinpath("step00000013.ckpt").exists()

    assert sorted(straight.losses) == list(range(1, 31))
    assert straight.losses == segmented.losses  # bit for bit: floats compared with ==
    one, other = (validations(Path(r.last_checkpoint).parent) for r in (straight_result, segmented_result))
    assert len(one) >= 6, one  # val_loss and val_accuracy after steps 13, 26 and 30
    assert {key: other.get(key) for key in one} == one
    assert straight_result.final_score == segmented_result.final_score is not None
    weights = [torch.load(r.last_checkpoint, map_location="cpu", weights_only=True)["state_dict"]
               for r in (straight_result, segmented_result)]
    for key, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][key]), key
