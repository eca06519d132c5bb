"""The Lightning loggers of a training segment: the CSV log in its checkpoint folder (read by the plots),
plus TensorBoard, MLflow or Weights & Biases as `logger.name` says (`activities.trackers` checks those
settings). A segment of a sweep's trial or a multirun's job is grouped: its MLflow run nests under its
trial's run, under the group's parent run (`activities.engine.mlflow_tree`), and its W&B run has the group."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, cast

from lightning.pytorch.loggers import CSVLogger, MLFlowLogger, TensorBoardLogger

from activities.trackers import hyperparameters, mlflow_uri, segment_names
from workflows.layout import LOGS
from workflows.payloads.messages import TrainRequest, TrainResult

log = logging.getLogger(__name__)

WANDB_DIR = "wandb"
"""W&B's folder in the run root when `logger.save_dir` is empty (its run files go in `wandb/` below it)."""


def group_of(request: TrainRequest, run: str) -> str:
    """The sweep or multirun a segment belongs to ('' for a single run)."""
    return request.logger.group or (run.split("/trial")[0] if "/trial" in run else "")


def _run_root(request: TrainRequest) -> str:
    return request.run_root or str(Path(request.checkpoint_dir).parent)


def _mlflow(request: TrainRequest, run: str, segment: str, stop_at: int, attempt: int) -> MLFlowLogger:
    spec, group = request.logger, group_of(request, run)
    tags = {"train_tune.run": run, "train_tune.segment": segment, "train_tune.stop_at_step": str(stop_at),
            "train_tune.attempt": str(attempt), "train_tune.trial": run.split("/trial")[-1] if "/trial" in run else ""}
    experiment = spec.experiment_name or group or run.split("/")[0]
    uri = mlflow_uri(spec, _run_root(request))
    if group:
        from mlflow.tracking import MlflowClient

        from activities.engine.mlflow_tree import experiment_id, segment_parent

        client = MlflowClient(tracking_uri=uri)
        parent = segment_parent(client, experiment_id(client, experiment), group, run, request,
                                hyperparameters(request))
        tags.update({"train_tune.group": group, "train_tune.kind": "segment", "mlflow.parentRunId": parent})
    return MLFlowLogger(experiment_name=experiment, tracking_uri=uri, run_name=f"{run}/{segment}", tags=tags)


def _wandb(request: TrainRequest, run: str, segment: str) -> Any:
    import wandb
    from lightning.pytorch.loggers import WandbLogger

    spec, root = request.logger, _run_root(request)
    folder = Path(spec.save_dir or Path(root) / WANDB_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    for variable, sub in (("WANDB_CACHE_DIR", "cache"), ("WANDB_CONFIG_DIR", "config"), ("WANDB_DATA_DIR", "data"),
                          ("WANDB_ARTIFACT_DIR", "artifacts")):
        os.environ.setdefault(variable, str(folder / sub))  # what W&B keeps beside its runs stays in the run root
    group = group_of(request, run) or run
    experiment = wandb.init(
        project=spec.project or "train-tune", entity=spec.entity or None, mode=cast(Any, spec.mode),  # in WANDB_MODES
        dir=str(folder),
        group=group, job_type="trial" if "/trial" in run else ("job" if request.logger.group else "run"),
        name=f"{run}/{segment}", config=hyperparameters(request), reinit="create_new",
        tags=[f"run:{run}", f"segment:{segment}"],
        # a worker's output mixes every training it runs; the run keeps metrics, not the console
        settings=wandb.Settings(console="off"),
    )
    return WandbLogger(experiment=experiment, save_dir=str(folder))


def training_loggers(request: TrainRequest, stop_at: int, attempt: int) -> list:
    """The CSV logger in the checkpoint folder, plus the one `request.logger` names."""
    run, segment = segment_names(request, stop_at, attempt)
    loggers: list = [CSVLogger(save_dir=request.checkpoint_dir, name=LOGS, version=segment)]
    spec = request.logger
    if spec.name == "tensorboard":
        save_dir = spec.save_dir or str(Path(_run_root(request)) / "tensorboard")
        loggers.append(TensorBoardLogger(save_dir=save_dir, name=run, version=segment, default_hp_metric=False))
    elif spec.name == "mlflow":
        loggers.append(_mlflow(request, run, segment, stop_at, attempt))
    elif spec.name == "wandb":
        loggers.append(_wandb(request, run, segment))
    for logger in loggers[1:]:
        if spec.name != "wandb":  # W&B got them as its run's config
            logger.log_hyperparams(hyperparameters(request))
    return loggers


def record_result(request: TrainRequest, loggers: list, result: TrainResult) -> None:
    """The segment's result on its trial's MLflow run (and the group's best on the parent), or in W&B's summary."""
    try:
        _record(request, loggers, result)
    except Exception as error:  # noqa: BLE001 - a tracker that fails must not fail (and repeat) the training
        log.warning("could not record the result in %s: %s", request.logger.name, error)


def _record(request: TrainRequest, loggers: list, result: TrainResult) -> None:
    spec = request.logger
    run, _ = segment_names(request, result.global_step, result.attempt)
    if spec.name == "mlflow" and group_of(request, run):
        from mlflow.tracking import MlflowClient

        from activities.engine import mlflow_tree

        uri = mlflow_uri(spec, _run_root(request))
        client = MlflowClient(tracking_uri=uri)
        group = group_of(request, run)
        experiment = mlflow_tree.experiment_id(client, spec.experiment_name or group)
        mlflow_tree.record_result(client, experiment, group, run, request, result)
    elif spec.name == "wandb":
        summary = loggers[-1].experiment.summary
        summary.update({"global_step": result.global_step, "best_checkpoint": result.best_checkpoint,
                        **({result.monitor: result.final_score} if result.final_score is not None else {}),
                        **({"best_score": result.best_score} if result.best_score is not None else {})})


def close_loggers(request: TrainRequest, loggers: list) -> None:
    """End what Lightning leaves open: the W&B run (its files are complete once it is finished)."""
    if request.logger.name == "wandb" and len(loggers) > 1:
        loggers[-1].experiment.finish()
