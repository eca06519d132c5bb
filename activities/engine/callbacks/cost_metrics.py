"""What a model costs, measured beside its validation metrics, for sweeps that trade accuracy against cost
(`objectives`, `constraints`) and for anyone who asks with `trainer.measure`:

- `latency_ms`: inference latency per sample on the worker's device: the first `samples` validation
  examples, each alone (batch of one, no padding), timed `repeats` times after one warm-up pass; the median
  over repeats of each sample, then the median over samples. Measured once per fit (it depends on the
  architecture, the device and the inputs, not on the weights) and reported at every validation.
- `param_count`: the model's parameters.
- `train_seconds`: wall time spent training this trial, summed over its segments and attempts (kept in the
  checkpoint as this callback's state; after PBT's exploit the copied checkpoint brings its source's time).
- `peak_memory_mb`: on a GPU the peak memory allocated by tensors on the device (`torch.cuda.
  max_memory_allocated`); on a CPU the worker process's peak resident memory (shared by every training
  the process ran), so compare CPU figures within one worker only.
"""

from __future__ import annotations

import resource
import statistics
import time

import torch
from lightning.pytorch.callbacks import Callback

from workflows.payloads.specs import COST_METRICS


class CostMetrics(Callback):
    def __init__(self, measure: list[str], samples: int = 16, repeats: int = 5):
        self.measure = [name for name in measure if name in COST_METRICS]
        self.samples, self.repeats = samples, repeats
        self.latency_ms: float | None = None
        self.trained_s = 0.0
        self.started: float | None = None
        self.step = -1
        self.values: dict[str, float] = {}

    def state_dict(self) -> dict[str, float]:
        return {"train_seconds": self.elapsed()}

    def load_state_dict(self, state_dict: dict[str, float]) -> None:
        self.trained_s = float(state_dict.get("train_seconds", 0.0))

    def elapsed(self) -> float:
        return self.trained_s + (time.perf_counter() - self.started if self.started is not None else 0.0)

    def on_train_start(self, trainer, pl_module) -> None:
        self.started = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        self.trained_s, self.started = self.elapsed(), None

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or not self.measure:
            return
        values: dict[str, float] = {}
        if "latency_ms" in self.measure:
            if self.latency_ms is None:
                self.latency_ms = self._latency_ms(trainer, pl_module)
            values["latency_ms"] = self.latency_ms
        if "param_count" in self.measure:
            values["param_count"] = float(sum(p.numel() for p in pl_module.parameters()))
        if "train_seconds" in self.measure:
            values["train_seconds"] = self.elapsed()
        if "peak_memory_mb" in self.measure:
            values["peak_memory_mb"] = peak_memory_mb(pl_module.device)
        self.step, self.values = trainer.global_step, values

    def at(self, step: int) -> dict[str, float]:
        """The measurements of the validation at `step` (empty when the latest was at another step)."""
        return dict(self.values) if self.step == step else {}

    def _latency_ms(self, trainer, pl_module) -> float:
        rows = trainer.datamodule.splits["validation"]
        device, model = pl_module.device, pl_module.model
        was_training = model.training
        model.eval()
        per_sample = []
        try:
            with torch.inference_mode(), trainer.precision_plugin.forward_context():
                for i in range(min(self.samples, len(rows))):
                    ids = torch.as_tensor([rows[i]["input_ids"]], dtype=torch.long, device=device)
                    model(input_ids=ids)  # warm-up: kernel selection, caches
                    times = []
                    for _ in range(self.repeats):
                        start = _now(device)
                        model(input_ids=ids)
                        times.append((_now(device) - start) * 1000.0)
                    per_sample.append(statistics.median(times))
        finally:
            model.train(was_training)
        return statistics.median(per_sample) if per_sample else float("nan")


def _now(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory in MiB: the device's allocated tensors on a GPU, else the process's peak resident set."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB
