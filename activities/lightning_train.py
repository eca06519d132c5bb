"""Lightning training of a sequence classifier on a dataset snapshot, with step checkpoints.

`fit` is plain Lightning: `ModelCheckpoint` saves every N steps (keeping the last k) and the best by the
monitored validation metric; `ProgressReporter` hands progress to whoever runs the fit (the Temporal
activity) and stops cleanly, with a checkpoint, when asked to.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, TQDMProgressBar
from torch.utils.data import DataLoader

from activities.checkpoint_io import ChecksummedCheckpointIO
from activities.engine.checkpoint_files import (
    BEST_FILENAME,
    STEP_FILE,
    STEP_FILENAME,
    step_checkpoint_name,
    step_of_checkpoint,
)
from activities.errors import TrainingDiverged
from activities.exact_resume import EpochPermutationSampler, ExactResume
from activities.models import load_classifier
from activities.rng_isolation import RngIsolation, TrainingRng
from activities.shared_storage import storage
from activities.snapshot_files import META_FILE
from activities.trackers import training_loggers
from activities.val_metrics import ValidationMetrics
from workflows.messages import DatasetSnapshot, TrainProgress, TrainRequest, TrainResult
from workflows.specs import OptimSpec

log = logging.getLogger(__name__)


class _ProgressBar:
    on = False
    """Lightning's progress bar for each training (a worker turns it on: `train-tune worker progress_bar=`);
    off in the runner, whose live table shows progress instead."""


PROGRESS_BAR = _ProgressBar()


def show_progress_bar(on: bool) -> None:
    PROGRESS_BAR.on = on


class SnapshotData(L.LightningDataModule):
    """Train/validation loaders over the snapshot's Arrow files (memory-mapped, not copied)."""

    def __init__(self, snapshot: DatasetSnapshot, batch_size: int, eval_batch_size: int, seed: int, workers: int,
                 pin_memory: bool = False):
        super().__init__()
        self.pin_memory = pin_memory
        """Page-locked batches (for a GPU): their copy to the device then does not wait for it."""
        self.snapshot = snapshot
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.workers = workers

    def setup(self, stage: str | None = None) -> None:
        self.splits = load_snapshot_splits(self.snapshot)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.splits["train"], batch_size=self.batch_size,
            sampler=EpochPermutationSampler(len(self.splits["train"]), self.seed),
            # its own generator for the per-iterator base seed, so starting an iterator (as a resumed fit
            # does mid-epoch) leaves the global RNG, and with it dropout, untouched
            generator=torch.Generator().manual_seed(self.seed),
            collate_fn=PadCollate(self.snapshot.pad_token_id), num_workers=self.workers, pin_memory=self.pin_memory,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self.splits["validation"], batch_size=self.eval_batch_size,
            collate_fn=PadCollate(self.snapshot.pad_token_id), num_workers=self.workers, pin_memory=self.pin_memory,
            generator=torch.Generator().manual_seed(self.seed),  # a validation must not consume the global RNG
        )


def load_snapshot_splits(snapshot: DatasetSnapshot) -> dict:
    import datasets

    storage().fetch_tree(Path(snapshot.uri), complete_marker=META_FILE)  # shared storage, when this machine lacks it

    return {
        split: datasets.load_from_disk(str(Path(snapshot.uri) / split))
        for split in snapshot.split_sizes
    }


class PadCollate:
    """Pads a batch of token id lists to its longest member and builds the attention mask. A batch with
    no padding gets no mask: the model then attends everywhere, as an all-ones mask would make it, and
    transformers need not check on the device whether the mask can be dropped (a check that makes the
    host wait for the GPU at every forward)."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), longest), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.as_tensor(row["input_ids"], dtype=torch.long)
            mask[i, :n] = 1
        labels = torch.as_tensor([r["labels"] for r in rows], dtype=torch.long)
        if all(len(row["input_ids"]) == longest for row in rows):
            return {"input_ids": ids, "labels": labels}
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def warmup_decay(step: int, warmup: int, total: int, kind: str) -> float:
    """LR multiplier: linear warmup to 1 over `warmup` steps, then linear or cosine decay to 0 at `total`
    (constant when kind == 'constant'). Defined over the whole budget, so resuming does not distort it."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    if kind == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0 - progress


class SequenceClassifier(L.LightningModule):
    def __init__(self, model: torch.nn.Module, optim: OptimSpec, max_steps: int):
        super().__init__()
        self.model = model
        self.optim = optim
        self.max_steps = max_steps

    def forward(self, batch: dict[str, torch.Tensor]):
        return self.model(**batch)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self(batch).loss
        # not on the progress bar: Lightning turns progress-bar values into Python floats at every step,
        # which makes the host wait for the device each step
        self.log("train_loss", loss, batch_size=batch["labels"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self(batch)
        n, predicted = batch["labels"].shape[0], out.logits.argmax(-1)
        self.log("val_loss", out.loss, prog_bar=True, batch_size=n)
        self.log("val_accuracy", (predicted == batch["labels"]).float().mean(), prog_bar=True, batch_size=n)
        return predicted  # `ValidationMetrics` counts them

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Lightning refuses to clip for a fused optimiser because with fp16 its gradient scaler unscales
        inside the fused step; with bf16 or fp32 there is no scaler and nothing to unscale, so clip here."""
        if gradient_clip_val and self.optim.fused and getattr(self.trainer.precision_plugin, "scaler", None) is None:
            torch.nn.utils.clip_grad_norm_(self.parameters(), gradient_clip_val)
            return
        self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def configure_optimizers(self):
        decay, no_decay = [], []
        for name, param in self.model.named_parameters():
            (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.optim.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.optim.lr, betas=tuple(self.optim.betas), eps=self.optim.eps, fused=self.optim.fused or None,
        )
        warmup = int(self.optim.warmup_ratio * self.max_steps)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_decay(step, warmup, self.max_steps, self.optim.scheduler)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


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
        if self.stop.is_set():
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


def _push_logs(logs: Path) -> None:
    """Upload the training logs to shared storage (learning curves on other machines read them)."""
    try:
        storage().push_tree(logs)
    except Exception as error:  # noqa: BLE001 - losing a log upload must not fail the training
        log.warning("could not upload the logs %s: %s", logs, error)


def fit(
    request: TrainRequest, resume_from: Path | None, report: Callable[[TrainProgress], None],
    stop: threading.Event, attempt: int, skipped: list[str] | None = None,
) -> TrainResult:
    """Train from scratch, or resume from `resume_from` (global step, optimiser, LR schedule restored)."""
    spec = request.trainer
    rng = TrainingRng()  # this training's own generators, whatever trains beside it in this process
    folder = Path(request.checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    resumed_from_step = step_of_checkpoint(resume_from) if resume_from else 0

    periodic = ModelCheckpoint(
        dirpath=folder, filename=STEP_FILENAME, auto_insert_metric_name=False,
        every_n_train_steps=spec.checkpoint_every_n_steps, save_top_k=spec.keep_last_checkpoints,
        monitor="step", mode="max", enable_version_counter=False,
    )
    best = ModelCheckpoint(
        dirpath=folder, filename=BEST_FILENAME, monitor=spec.monitor, mode=spec.monitor_mode, save_top_k=1,
        enable_version_counter=False,
    )
    stop_at = request.stop_at_step or spec.max_steps
    last_validation, validation = LastValidation(spec.monitor), ValidationMetrics(request.snapshot.label_names)
    throughput = Throughput()
    trainer = L.Trainer(
        accelerator=spec.accelerator, devices=spec.devices, precision=cast(Any, spec.precision), max_steps=stop_at,
        val_check_interval=spec.val_every_n_steps, check_val_every_n_epoch=None,
        gradient_clip_val=spec.gradient_clip_val or None, deterministic=spec.deterministic,
        callbacks=[RngIsolation(rng),
                   ProgressReporter(report, stop, periodic, attempt, resumed_from_step, last_validation), periodic, best,
                   last_validation, validation, throughput, ExactResume(rng),
                   *([TQDMProgressBar()] if PROGRESS_BAR.on else [])],
        plugins=[ChecksummedCheckpointIO()],
        # one log per attempt (and per segment of a ladder trial), so nothing is overwritten
        logger=training_loggers(request, stop_at, attempt),
        enable_progress_bar=PROGRESS_BAR.on, enable_model_summary=False, num_sanity_val_steps=0,
        log_every_n_steps=max(1, min(50, spec.checkpoint_every_n_steps)),
    )
    data = SnapshotData(request.snapshot, spec.batch_size, spec.eval_batch_size, request.seed, spec.num_workers,
                        pin_memory=spec.accelerator in ("gpu", "auto") and torch.cuda.is_available())
    model = rng.seeded(request.seed, lambda: load_classifier(request.model, len(request.snapshot.label_names),
                                                           request.snapshot.label_names))
    module = SequenceClassifier(model, request.optim, spec.max_steps)
    try:
        trainer.fit(module, datamodule=data, ckpt_path=str(resume_from) if resume_from else None, weights_only=True)
    finally:
        _push_logs(folder / "logs")

    last = Path(periodic.best_model_path) if periodic.best_model_path else None
    if last is None or step_of_checkpoint(last) != trainer.global_step:
        last = folder / step_checkpoint_name(trainer.global_step)
        trainer.save_checkpoint(last)
    if last_validation.step != trainer.global_step and (not stop.is_set() or trainer.global_step >= stop_at):
        # the segment ended between validations (a rung in epochs or a data fraction): validate here, so
        # the rung metric belongs to the rung's step (also when a stop came after its last step)
        trainer.validate(module, datamodule=data, verbose=False)
    score = best.best_model_score
    report(TrainProgress(
        step=trainer.global_step, max_steps=stop_at, latest_checkpoint=str(last), attempt=attempt,
        resumed_from_step=resumed_from_step, val_metric=float(score) if score is not None else None,
    ))
    return TrainResult(
        best_checkpoint=best.best_model_path or str(last), last_checkpoint=str(last),
        global_step=trainer.global_step, resumed_from_step=resumed_from_step,
        attempt=attempt,
        best_score=float(score) if score is not None else None,
        monitor=spec.monitor,
        steps_this_attempt=trainer.global_step - resumed_from_step,
        final_score=last_validation.score if last_validation.step == trainer.global_step else None,
        skipped_checkpoints=list(skipped or []), samples_per_second=throughput.samples_per_second,
        val_metrics=validation.at(trainer.global_step),
    )
