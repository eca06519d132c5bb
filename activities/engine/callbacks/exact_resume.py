"""A resumed fit continues exactly where its checkpoint left off, so a training run in segments (a ladder
trial promoted rung by rung, a retried attempt) computes, bit for bit, what one uninterrupted fit computes.

Three things make up "where it left off": the training's own RNG states (dropout; see `engine.rng`),
the position in the data order (`engine.epoch_sampler`: the order is a function of the global step
alone, each step taking `trainer.accumulate_grad_batches` batches), and Lightning's own fit-loop counters.
The last need repairing in one case: a checkpoint saved after a fit ended exactly at the end of an epoch
records the epoch as finished but keeps its batch count, so Lightning, resuming, runs one more batch "in"
that epoch (the first of the next epoch's order) and then starts the epoch after, skipping the rest of the
next epoch's order. `ExactResume` starts the next epoch afresh instead, as Lightning itself does for a
checkpoint saved at the last batch of an epoch.
"""

from __future__ import annotations

import warnings

from lightning.pytorch.callbacks import Callback

from activities.engine.epoch_sampler import EpochPermutationSampler, data_position
from activities.engine.rng import TrainingRng

warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
"""ExactResume continues the data order mid-epoch itself."""


def start_next_epoch_afresh(trainer) -> None:
    """If the checkpoint was saved after a fit that ended with the last batch of an epoch (its batch count
    for the epoch is complete, the epoch counted as done), make the coming epoch start at its first batch.

    Lightning resets these counters itself when the checkpoint was saved at that batch's end
    (`on_train_batch_end`: one batch short of complete), but not when it was saved after the fit: it then
    resumes the finished count, runs a single batch and moves on to the epoch after. The counters reset are
    the ones Lightning resets at the start of every epoch."""
    epoch_loop = trainer.fit_loop.epoch_loop
    if epoch_loop.batch_progress.current.completed < trainer.num_training_batches:
        return
    epoch_loop.batch_progress.reset_on_run()
    epoch_loop.scheduler_progress.reset_on_run()
    epoch_loop.automatic_optimization.optim_progress.reset_on_run()
    epoch_loop.val_loop.batch_progress.total.reset()


class ExactResume(Callback):
    """Makes a resumed fit continue exactly where the checkpoint left off: the training's own RNG states
    (dropout; see `engine.rng`) are saved in each checkpoint and restored, and the training data
    continues mid-epoch, or with the next epoch when the checkpoint ended one. Training in segments, or
    after a crash, then computes the same steps as one uninterrupted run."""

    def __init__(self, rng: TrainingRng):
        self.rng = rng
        self.saved: dict | None = None
        self.resumed = False

    def state_dict(self) -> dict:
        return self.rng.current() or {}

    def load_state_dict(self, state: dict) -> None:
        self.saved = state

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.global_step == 0:
            return
        sampler = trainer.train_dataloader.sampler
        if isinstance(sampler, EpochPermutationSampler):
            batch_size = trainer.train_dataloader.batch_size
            position = data_position(trainer.global_step, -(-sampler.size // batch_size), trainer.accumulate_grad_batches)
            sampler.skip = position.batches_done * batch_size
            sampler.epoch_offset = position.epoch - trainer.current_epoch
            if sampler.skip == 0:
                start_next_epoch_afresh(trainer)
        if self.saved:
            self.rng.restore(self.saved)
        self.resumed = True

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.resumed:
            # the step loggers write (one per optimiser step, however many batches it accumulates) equals the
            # global step, as in a fit that never stopped: Lightning's own restore is one ahead after an epoch-end fit
            self.resumed = False
            trainer.fit_loop.epoch_loop._batches_that_stepped = trainer.global_step
