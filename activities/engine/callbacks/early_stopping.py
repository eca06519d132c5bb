"""`trainer.early_stopping_patience`: Lightning's own EarlyStopping on `trainer.monitor`, which also stops a
fit resumed from a checkpoint saved after it had stopped (a retry of an attempt that stopped early, but
whose result never reached Temporal): it trains no further steps instead of training on until the next
validation."""

from __future__ import annotations

from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason


class ResumableEarlyStopping(EarlyStopping):
    """EarlyStopping whose stop survives a resume (its state, patience count included, is saved in each
    checkpoint by Lightning)."""

    @property
    def stopped(self) -> bool:
        """The monitored metric stopped improving (or went non-finite), in this fit or before its resume."""
        return self.stopping_reason != EarlyStoppingReason.NOT_STOPPED

    def on_train_start(self, trainer, pl_module) -> None:
        if self.stopped:
            trainer.should_stop = True
