"""The Lightning loggers of a training segment: the CSV log in its checkpoint folder (read by the plots),
plus TensorBoard or MLflow as `logger.name` says (`activities.trackers` checks those settings). A segment
of a sweep's trial or a multirun's job is grouped: its MLflow run nests under its trial's run, under the
group's parent run (`activities.engine.mlflow_tree`)."""

from __future__ import annotations

import logging
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, MLFlowLogger, TensorBoardLogger

from activities.trackers import hyperparameters, mlflow_uri, segment_names
from workflows.layout import LOGS
from workflows.payloads.messages import TrainRequest, TrainResult

log = logging.getLogger(__name__)


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
    for logger in loggers[1:]:
        logger.log_hyperparams(hyperparameters(request))
    return loggers


def record_result(request: TrainRequest, loggers: list, result: TrainResult) -> None:
    """The segment's result on its trial's MLflow run (and the group's best on the parent)."""
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


def close_loggers(request: TrainRequest, loggers: list) -> None:
    """End what Lightning leaves open (nothing yet)."""
