"""The Lightning loggers of a training segment: the CSV log in its checkpoint folder (read by the plots),
plus TensorBoard or MLflow as `logger.name` says (`activities.trackers` checks those settings)."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, MLFlowLogger, TensorBoardLogger

from activities.trackers import hyperparameters, mlflow_uri, segment_names
from workflows.layout import LOGS
from workflows.payloads.messages import TrainRequest


def training_loggers(request: TrainRequest, stop_at: int, attempt: int) -> list:
    """The CSV logger in the checkpoint folder, plus the one `request.logger` names."""
    run, segment = segment_names(request, stop_at, attempt)
    loggers: list = [CSVLogger(save_dir=request.checkpoint_dir, name=LOGS, version=segment)]
    spec, run_root = request.logger, request.run_root or str(Path(request.checkpoint_dir).parent)
    if spec.name == "tensorboard":
        save_dir = spec.save_dir or str(Path(run_root) / "tensorboard")
        loggers.append(TensorBoardLogger(save_dir=save_dir, name=run, version=segment, default_hp_metric=False))
    elif spec.name == "mlflow":
        loggers.append(MLFlowLogger(
            experiment_name=spec.experiment_name or run.split("/")[0], tracking_uri=mlflow_uri(spec, run_root),
            run_name=f"{run}/{segment}",
            tags={"train_tune.run": run, "train_tune.segment": segment, "train_tune.stop_at_step": str(stop_at),
                  "train_tune.attempt": str(attempt), "train_tune.trial": run.split("/trial")[-1] if "/trial" in run
                  else ""},
        ))
    for logger in loggers[1:]:
        logger.log_hyperparams(hyperparameters(request))
    return loggers
