"""The step and monitored metric of a fit's latest validation (a segment's rung metric, its progress)."""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback


class LastValidation(Callback):
    """Remembers the global step and monitored metric of the latest validation."""

    def __init__(self, monitor: str):
        self.monitor = monitor
        self.step = -1
        self.score: float | None = None

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        self.step, self.score = trainer.global_step, float(value) if value is not None else None
