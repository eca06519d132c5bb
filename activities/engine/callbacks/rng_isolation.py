"""Each training step runs with its training's own random generators installed, under the process-wide
RNG lock, so trainings side by side in one worker compute what each computes alone (`engine.rng` says
how and why)."""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback

from activities.engine.rng import RNG_LOCK, TrainingRng


class RngIsolation(Callback):
    """Runs each training step with the training's own RNG state installed, under RNG_LOCK.

    It also holds RNG_LOCK from the fit's start to its first step: Lightning runs its sanity check inside
    `isolate_rng()` at the start of every fit (even with no sanity steps), which saves the global generators
    and sets them back afterwards. Unlocked, that would rewind the generators of a training stepping beside
    this one in the middle of its step."""

    def __init__(self, rng: TrainingRng):
        self.rng = rng
        self.starting = False

    def on_fit_start(self, trainer, pl_module) -> None:
        RNG_LOCK.acquire()
        self.starting = True

    def _started(self) -> None:
        if self.starting:
            self.starting = False
            RNG_LOCK.release()

    def on_train_start(self, trainer, pl_module) -> None:
        self._started()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.rng.enter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.rng.leave()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._started()
        self.rng.leave()  # a step that raised must not keep the lock from the other trainings

    def on_train_end(self, trainer, pl_module) -> None:
        self._started()
        self.rng.leave()

    def teardown(self, trainer, pl_module, stage) -> None:
        """Every fit ends here, also one that never reached `on_train_start` (resumed at or past its last
        step, Lightning skips the training loop and its start and end hooks): a lock kept past the fit would
        stop every other training in the process at its next step."""
        self._started()
        self.rng.leave()
