"""Training throughput of a fit, in samples per second, measured without stalling the device."""

from __future__ import annotations

import time

import torch
from lightning.pytorch.callbacks import Callback


class Throughput(Callback):
    """Training samples per second in the steady part of a fit: from the end of its `skip`-th step to
    the end of its last step, the device synchronised at both ends (and nowhere else), so the kernels
    still queued are counted and none is waited for in between. Validations or checkpoints inside that
    window count as training time."""

    def __init__(self, skip: int = 5):
        self.skip = skip
        self.steps = self.samples = 0
        self.start: float | None = None
        self.end: float | None = None

    @staticmethod
    def now(pl_module) -> float:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        return time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps += 1
        if self.steps == self.skip:
            self.start = self.now(pl_module)
        elif self.steps > self.skip:
            self.samples += int(batch["labels"].shape[0])
            if trainer.global_step >= trainer.max_steps:
                self.end = self.now(pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.start is not None and self.end is None:
            self.end = self.now(pl_module)

    @property
    def samples_per_second(self) -> float | None:
        if not self.samples or self.start is None or self.end is None or self.end <= self.start:
            return None
        return self.samples / (self.end - self.start)
