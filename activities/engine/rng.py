"""Each training owns its random number generators, so trainings running side by side in one worker
process (threads) compute exactly what each computes alone.

Dropout, and anything else a training step draws, takes its numbers from the process-wide generators of
torch (CPU and CUDA), numpy and Python's `random`. Each training keeps its own state of all of them in a
`TrainingRng`: `RngIsolation` (`callbacks.rng_isolation`) holds a process-wide lock for each training step and installs the
training's state into the global generators at the start of the step, and saves it back and releases the
lock at its end. Model initialisation draws under the same lock (`TrainingRng.seeded`). Whatever else
draws from the global generators meanwhile (another training's validation, a suggestion, a library)
then cannot shift a training's numbers: they are overwritten at the start of every step.

The cost is that steps of concurrent trainings run one at a time. On a CPU a step already uses all cores,
so little is lost; on a GPU only the host's part of a step (queueing its kernels) is serialised.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import lightning as L
import numpy
import torch

T = TypeVar("T")

RNG_LOCK = threading.RLock()
"""Held by the one training (thread) whose RNG state is installed in the global generators."""


def _cuda_in_use() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def global_rng_state() -> dict[str, Any]:
    """The global generators' states, as plain types and tensors (checkpoints load with weights_only=True)."""
    kind, keys, position, has_gauss, gauss = numpy.random.get_state(legacy=True)  # type: ignore[misc]
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(), "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(numpy.asarray(keys).astype("int64")), position, has_gauss, gauss],
    }
    if _cuda_in_use():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict[str, Any]) -> None:
    """Install `state` (from `global_rng_state`, or a checkpoint) into the global generators."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = state["numpy"]
    numpy.random.set_state((kind, keys.numpy().astype("uint32"), position, has_gauss, cached))
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class TrainingRng:
    """One training's generator states, installed in the global generators only while it holds RNG_LOCK."""

    def __init__(self) -> None:
        self.seed = 0
        self.state: dict[str, Any] | None = None
        self.installed = False
        """Whether the state is in the global generators now (this training is inside a step)."""

    def seeded(self, seed: int, draw: Callable[[], T]) -> T:
        """`draw()` (model initialisation) with the global generators seeded from `seed`; this training's
        state starts where `draw` left them."""
        self.seed = seed
        with RNG_LOCK:
            L.seed_everything(seed, workers=True, verbose=False)
            result = draw()
            self.state = global_rng_state()
        return result

    def current(self) -> dict[str, Any] | None:
        """This training's state now (read from the global generators while inside a step)."""
        if self.installed:
            self.state = global_rng_state()
        return self.state

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from `state` (a checkpoint's) at the next step."""
        self.state = state
        if self.installed:
            set_global_rng_state(state)

    def enter(self) -> None:
        if self.installed:
            return
        RNG_LOCK.acquire()
        try:
            if self.state is not None:
                set_global_rng_state(self.state)
                if "cuda" not in self.state and _cuda_in_use():
                    # CUDA started after the model was built: its generators start from the seed, as
                    # seed_everything left them for a training alone
                    torch.cuda.manual_seed_all(self.seed)
        except BaseException:
            RNG_LOCK.release()
            raise
        self.installed = True

    def leave(self) -> None:
        if not self.installed:
            return
        try:
            self.state = global_rng_state()
        finally:
            self.installed = False
            RNG_LOCK.release()

    @contextmanager
    def owned(self) -> Iterator[None]:
        """Draw from this training's generators for the duration of the block."""
        self.enter()
        try:
            yield
        finally:
            self.leave()
