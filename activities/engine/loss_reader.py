"""Each step's training loss on the host without making the host wait for the device (`LossReader`)."""

from __future__ import annotations

import torch


class LossReader:
    """Each step's training loss as a Python float, read without making the host wait for the device.

    On a GPU the loss is copied into pinned host memory behind a CUDA event, in stream order right after
    its step's kernels; a later step takes it once `event.query()` says the copy is done, never blocking.
    (`float(loss)`, even of the previous step's loss, would not do: it synchronises the stream, so the host
    waits for every kernel queued so far, the current step's included, and the device then idles until the
    host has queued the next step.) At the end of the fit the remaining values are waited for. On the CPU
    a loss is at hand as soon as its step returns."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, torch.Tensor, torch.cuda.Event | None]] = []

    def push(self, step: int, loss: torch.Tensor) -> None:
        loss = loss.detach()
        if loss.device.type != "cuda":
            self.pending.append((step, loss, None))
            return
        host = torch.empty(loss.shape, dtype=loss.dtype, pin_memory=True)
        host.copy_(loss, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        self.pending.append((step, host, event))

    def ready(self, wait: bool = False) -> list[tuple[int, float]]:
        """(step, loss) of the steps whose loss has reached the host, oldest first; with `wait`, all."""
        done = []
        while self.pending:
            step, value, event = self.pending[0]
            if event is not None and not event.query():
                if not wait:
                    break
                event.synchronize()
            self.pending.pop(0)
            done.append((step, float(value)))
        return done
