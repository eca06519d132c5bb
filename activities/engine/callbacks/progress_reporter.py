"""Hands a fit's progress to whoever runs it (the Temporal activity) after each step, records the step
in the checkpoint folder for crash accounting, stops a diverged fit, and stops cleanly with a checkpoint
when asked to."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import cast

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from activities.engine.callbacks.last_validation import LastValidation
from activities.engine.checkpoint_files import STEP_FILE, step_checkpoint_name
from activities.engine.loss_reader import LossReader
from activities.engine.module import SequenceClassifier
from activities.errors import TrainingDiverged
from workflows.payloads.messages import TrainProgress


class ProgressReporter(Callback):
    """Hands (step, loss, latest checkpoint) to `report` after each batch and writes the global step to
    `<checkpoint folder>/STEP_FILE` (a few bytes rewritten in place through a descriptor kept open, no
    fsync: it survives the process being killed, so the work a crash wastes can be counted exactly); on
    `stop`, saves a step checkpoint and ends the fit.

    It also stops a diverged fit: a NaN or infinite loss raises `TrainingDiverged` (final, no retry).
    Losses are read through `LossReader`, which never makes the host wait for the GPU, so on a GPU a
    diverged step is caught a step or two later (the loss reported is the newest one read), or at the end
    of the fit."""

    def __init__(
        self, report: Callable[[TrainProgress], None], stop: threading.Event, periodic: ModelCheckpoint,
        attempt: int, resumed_from_step: int, validation: LastValidation,
    ):
        self.report = report
        self.stop = stop
        self.periodic = periodic
        self.attempt = attempt
        self.resumed_from_step = resumed_from_step
        self.validation = validation
        self.losses = LossReader()
        self.loss: float | None = None
        """The newest training loss read on the host."""
        self.step_file: int | None = None
        """Descriptor of STEP_FILE, open while the fit trains."""

    def checked_loss(self, trainer: L.Trainer, latest: torch.Tensor | None) -> float | None:
        """Queue `latest` (this step's loss) and take the losses that have reached the host: the newest as
        a float; raises if any of them is not finite."""
        if latest is not None:
            self.losses.push(trainer.global_step, latest)
        for step, value in self.losses.ready(wait=latest is None):
            if not math.isfinite(value):
                lr = cast(SequenceClassifier, trainer.lightning_module).optim.lr
                raise TrainingDiverged(f"the training loss is {value} at step {step} (lower optim.lr, now "
                                       f"{lr:g}, or keep trainer.gradient_clip_val on)")
            self.loss = value
        return self.loss

    def progress(self, trainer: L.Trainer, loss: float | None) -> TrainProgress:
        metric = self.validation.score  # not trainer.callback_metrics: computing those each step syncs
        return TrainProgress(
            step=trainer.global_step, max_steps=trainer.max_steps, loss=loss,
            latest_checkpoint=self.periodic.best_model_path, attempt=self.attempt,
            resumed_from_step=self.resumed_from_step,
            val_metric=metric, checkpoint_dir=str(self.periodic.dirpath),
        )

    def write_step(self, step: int) -> None:
        """`<step> <attempt>` in STEP_FILE, padded to a fixed width so each write covers the one before."""
        if self.step_file is None:
            path = Path(self.periodic.dirpath or ".") / STEP_FILE
            self.step_file = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.pwrite(self.step_file, f"{step} {self.attempt}".ljust(39).encode() + b"\n", 0)

    def close_step_file(self) -> None:
        if self.step_file is not None:
            os.close(self.step_file)
            self.step_file = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.write_step(trainer.global_step)
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.report(self.progress(trainer, self.checked_loss(trainer, loss)))
        if self.stop.is_set() and not mid_accumulation(trainer):
            path = Path(self.periodic.dirpath or ".") / step_checkpoint_name(trainer.global_step)
            trainer.save_checkpoint(path)
            self.periodic.best_model_path = str(path)
            trainer.should_stop = True

    def on_train_end(self, trainer, pl_module) -> None:
        self.checked_loss(trainer, None)  # the losses still on their way

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.close_step_file()

    def teardown(self, trainer, pl_module, stage) -> None:
        self.close_step_file()


def mid_accumulation(trainer) -> bool:
    """Whether the batch just trained added its gradients to a step still to come (gradient accumulation):
    a stop waits for that step, so every checkpoint lies between optimiser steps, where a resume begins."""
    done = trainer.fit_loop.epoch_loop.batch_progress.current.ready
    return done % trainer.accumulate_grad_batches != 0 and done < trainer.num_training_batches
