"""The training data order as a function of the global step alone: each epoch is its own seeded
permutation, perm(seed, epoch), so a fit resumed mid-epoch (`callbacks.exact_resume`) continues the very
order an uninterrupted fit would have drawn."""

from __future__ import annotations

from typing import NamedTuple

import torch


class DataPosition(NamedTuple):
    epoch: int
    """The data epoch the next batch belongs to."""
    batches_done: int
    """Batches of that epoch already trained on."""


def data_position(global_step: int, batches: int, accumulate: int = 1) -> DataPosition:
    """Where the data order stands after `global_step` optimiser steps, with `batches` batches an epoch and
    `accumulate` batches a step. Lightning steps after the last batch of an epoch even with fewer batches
    added up, so an epoch is ceil(batches / accumulate) steps."""
    steps_per_epoch = -(-batches // accumulate)
    return DataPosition(global_step // steps_per_epoch, (global_step % steps_per_epoch) * accumulate)


class EpochPermutationSampler(torch.utils.data.Sampler):
    """Shuffles each epoch with its own seeded permutation, perm(seed, epoch), so the data order is a
    function of the global step alone; `skip` drops the first items of the next pass (a resumed run
    continues mid-epoch where the checkpoint left off instead of starting the epoch again)."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch, self.skip = size, seed, 0, 0
        self.epoch_offset = 0
        """Data epoch minus Lightning's epoch: a checkpoint saved after a fit ended counts its unfinished epoch
        as done, so Lightning resumes from it one epoch ahead of the data (set by ExactResume)."""

    def set_epoch(self, epoch: int) -> None:  # Lightning calls this at every epoch start
        self.epoch = epoch + self.epoch_offset

    def __len__(self) -> int:
        return self.size - self.skip

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()[self.skip:]
        self.skip = 0
        return iter(order)
