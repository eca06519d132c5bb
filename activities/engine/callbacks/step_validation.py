"""With gradient accumulation (`trainer.accumulate_grad_batches` > 1), validation every N optimiser steps.

Lightning counts its `val_check_interval` in batches over the whole fit, but steps at the last batch of
every epoch even when fewer than `accumulate_grad_batches` batches have added up, so once an epoch's batch
count is not a multiple of them, "every N x k batches" drifts off "every N optimiser steps" (and can land
mid-accumulation). `StepValidation` instead asks for a validation right after the batch that completes a
global step that is a multiple of N, and for none otherwise."""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback

NEVER = 10**15
"""A batch interval no fit reaches: Lightning's own batch-counted validation never fires."""


class StepValidation(Callback):
    def __init__(self, every_n_steps: int):
        self.every_n_steps = every_n_steps
        self.step_before = -1

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.step_before = trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        stepped = trainer.global_step > self.step_before
        # Lightning's epoch loop reads this right after the batch: validate iff a multiple of N was reached
        trainer.val_check_batch = 1 if stepped and trainer.global_step % self.every_n_steps == 0 else NEVER
