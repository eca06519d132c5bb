"""Lightning training of a sequence classifier on a dataset snapshot, with step checkpoints.

`fit` is plain Lightning: `ModelCheckpoint` saves every N steps (keeping the last k) and the best by the
monitored validation metric; `ProgressReporter` hands progress to whoever runs the fit (the Temporal
activity) and stops cleanly, with a checkpoint, when asked to. The parts live beside this module: the
data (`data`), the module and its schedule (`module`, `schedule`), the callbacks (`callbacks/`) and the
checkpoint files (`checkpoint_files`, `checkpoint_io`).
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar

from activities.encode import scale
from activities.engine.callbacks.apply_hyperparameters import ApplyHyperparameters
from activities.engine.callbacks.cost_metrics import CostMetrics
from activities.engine.callbacks.exact_resume import ExactResume
from activities.engine.callbacks.last_validation import LastValidation
from activities.engine.callbacks.progress_reporter import ProgressReporter
from activities.engine.callbacks.rng_isolation import RngIsolation
from activities.engine.callbacks.throughput import Throughput
from activities.engine.callbacks.val_metrics import ValidationMetrics
from activities.engine.checkpoint_files import (
    BEST_FILENAME,
    STEP_FILENAME,
    step_checkpoint_name,
    step_of_checkpoint,
)
from activities.engine.checkpoint_io import ChecksummedCheckpointIO
from activities.engine.data import SnapshotData
from activities.engine.loggers import close_loggers, record_result, training_loggers
from activities.engine.module import SequenceClassifier
from activities.engine.progress_bar import PROGRESS_BAR
from activities.engine.rng import TrainingRng
from activities.engine.training_options import option_callbacks, resave_last, stopped_early, trainer_arguments
from activities.engine.weighted_loss import weigh_training_loss
from activities.models import load_classifier
from activities.ner.validation import TokenValidationMetrics
from activities.shared_storage import storage
from workflows.layout import LOGS
from workflows.payloads.messages import TrainProgress, TrainRequest, TrainResult

log = logging.getLogger(__name__)
warnings.filterwarnings("ignore", message="The dirpath has changed from")
"""PBT's exploit resumes from another member's checkpoint on purpose (`own_best`)."""


def _push_logs(logs: Path) -> None:
    """Upload the training logs to shared storage (learning curves on other machines read them)."""
    try:
        storage().push_tree(logs)
    except Exception as error:  # noqa: BLE001 - losing a log upload must not fail the training
        log.warning("could not upload the logs %s: %s", logs, error)


def own_best(best: ModelCheckpoint, folder: Path) -> str:
    """The best checkpoint if this training's folder holds it. After PBT's exploit the fit resumes from
    another member's checkpoint, from which Lightning restores that member's `best_model_path` (and warns
    that the dirpath changed); until this training validates, that path is not its own."""
    path = best.best_model_path
    return path if path and Path(path).parent == folder else ""


def device_use(trainer: L.Trainer) -> tuple[str, int]:
    """(the device type the fit ran on, the CUDA devices it held: 0 on any other device), for the
    sweep's `budget.max_gpu_hours` (`TrainResult.gpu_seconds`)."""
    device = trainer.strategy.root_device.type
    return device, trainer.num_devices if device == "cuda" else 0


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
    stop_at = request.stop_step()
    snapshot = request.snapshot
    regression = snapshot.task.name == "regression"
    last_validation = LastValidation(spec.monitor)
    multi_label = snapshot.task.name == "multi_label"
    tagged = snapshot.task.name == "token_classification"
    validation = TokenValidationMetrics(snapshot.label_names, snapshot.max_length) if tagged else \
        ValidationMetrics(snapshot.label_names,
                          scale(snapshot.task.normalize, snapshot.label_stats) if regression else None,
                          multi_label=multi_label)
    throughput, costs = Throughput(), CostMetrics(spec.measure)
    loggers = training_loggers(request, stop_at, attempt)
    options = option_callbacks(request)
    try:
        trainer = L.Trainer(
            accelerator=spec.accelerator, devices=spec.devices, precision=cast(Any, spec.precision), max_steps=stop_at,
            check_val_every_n_epoch=None, **trainer_arguments(request),
            gradient_clip_val=spec.gradient_clip_val or None, deterministic=spec.deterministic,
            callbacks=[RngIsolation(rng),
                       ProgressReporter(report, stop, periodic, attempt, resumed_from_step, last_validation), periodic, best,
                       last_validation, validation, costs, throughput, ExactResume(rng), ApplyHyperparameters(), *options,
                       *([TQDMProgressBar()] if PROGRESS_BAR.on else [])],
            plugins=[ChecksummedCheckpointIO()],
            # one log per attempt (and per segment of a ladder trial), so nothing is overwritten
            logger=loggers,
            enable_progress_bar=PROGRESS_BAR.on, enable_model_summary=False, num_sanity_val_steps=0,
            log_every_n_steps=max(1, min(50, spec.checkpoint_every_n_steps)),
        )
        data = SnapshotData(request.snapshot, spec.batch_size, spec.eval_batch_size, request.seed, spec.num_workers,
                            pin_memory=spec.accelerator in ("gpu", "auto") and torch.cuda.is_available())
        model = rng.seeded(request.seed, lambda: load_classifier(request.model, len(snapshot.label_names),
                                                               snapshot.label_names, snapshot.task.name))
        weigh_training_loss(model, spec.class_weights, snapshot)
        module = SequenceClassifier(model, request.optim, spec.max_steps, regression=regression,
                                    threshold=snapshot.task.threshold if multi_label else None, tagged=tagged)
        began = time.monotonic()
        try:
            trainer.fit(module, datamodule=data, ckpt_path=str(resume_from) if resume_from else None, weights_only=True)
        finally:
            _push_logs(folder / LOGS)
        device, gpus = device_use(trainer)

        last = Path(periodic.best_model_path) if periodic.best_model_path else None
        if last is None or step_of_checkpoint(last) != trainer.global_step or resave_last(options):
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
        result = TrainResult(
            best_checkpoint=own_best(best, folder) or str(last), last_checkpoint=str(last),
            global_step=trainer.global_step, resumed_from_step=resumed_from_step,
            attempt=attempt,
            best_score=float(score) if score is not None else None,
            monitor=spec.monitor,
            steps_this_attempt=trainer.global_step - resumed_from_step,
            final_score=last_validation.score if last_validation.step == trainer.global_step else None,
            skipped_checkpoints=list(skipped or []), samples_per_second=throughput.samples_per_second,
            val_metrics={**validation.at(trainer.global_step), **costs.at(trainer.global_step)},
            device=device, gpu_seconds=round((time.monotonic() - began) * gpus, 3),
            stopped_early=stopped_early(options),
        )
        record_result(request, loggers, result)
        return result
    finally:
        close_loggers(request, loggers)
