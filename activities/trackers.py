"""Experiment tracking: the settings of the Lightning loggers a training segment writes to, chosen by the
`logger/` group (`activities.engine.loggers` makes them).

Every segment writes the CSV log in its checkpoint folder (`logs/SEGMENT-attemptN`, read by the plots);
`logger=tensorboard` adds TensorBoard event files under one folder for the whole run root, and
`logger=mlflow` one MLflow run per segment, tagged with its workflow, trial, rung step and attempt, with the
trial's hyperparameters as params (a sweep's or multirun's segments nest under their trial's run, under one
parent run: `activities.engine.mlflow_tree`), and `logger=wandb` one W&B run per segment, grouped by sweep
or multirun, offline by default (run files under the run root). A segment is named after its checkpoint folder relative to
`{run_root}/checkpoints` (`WORKFLOW_ID` for a single run, `SWEEP_ID/trialN` for a sweep's trial).
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict
from pathlib import Path
from typing import Any

from activities.paths import confined
from workflows.layout import CHECKPOINTS
from workflows.payloads.choices import LOGGERS, WANDB_MODES
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import TrainRequest
from workflows.payloads.specs import LoggerSpec

NEEDS = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}
"""The package each logger needs (in the `tracking` extra)."""
REMOTE_SCHEMES = ("http://", "https://")


def check_logger_spec(spec: LoggerSpec, run_root: str) -> None:
    """Bad logger settings fail at resolve time: unknown name, package missing, a path outside the run root."""
    if spec.name not in LOGGERS:
        raise ConfigError(f"logger.name is '{spec.name}', but must be one of {', '.join(LOGGERS)}")
    package = NEEDS.get(spec.name)
    if package and importlib.util.find_spec(package) is None:
        raise ConfigError(f"logger is '{spec.name}', but the {package} package is not installed; "
                          f"pip install 'train-tune[tracking]' (or {package})")
    if spec.mode not in WANDB_MODES:
        raise ConfigError(f"logger.mode is '{spec.mode}', but must be one of {', '.join(WANDB_MODES)}")
    if spec.save_dir:
        confined(spec.save_dir, run_root, "logger.save_dir")
    if spec.tracking_uri:
        mlflow_uri(spec, run_root)


def mlflow_uri(spec: LoggerSpec, run_root: str) -> str:
    """The tracking URI: a server (http/https), or a SQLite file inside the run root."""
    uri = spec.tracking_uri or f"sqlite:///{Path(run_root) / 'mlflow.db'}"
    if uri.startswith(REMOTE_SCHEMES):
        return uri
    if uri.startswith("sqlite:///"):
        confined(uri[len("sqlite:///"):], run_root, "logger.tracking_uri")
        return uri
    raise ConfigError(f"logger.tracking_uri is '{uri}', but must be http(s)://HOST:PORT (a tracking server) or "
                      f"sqlite:///PATH inside the run root")


def segment_names(request: TrainRequest, stop_at: int, attempt: int) -> tuple[str, str]:
    """(run name, segment name): e.g. ('sweep-sha-ab12/trial3', 'to60-attempt1') or ('run-x', 'attempt2')."""
    folder = Path(request.checkpoint_dir)
    try:
        run = folder.resolve().relative_to((Path(request.run_root) / CHECKPOINTS).resolve()).as_posix()
    except ValueError:
        run = folder.name
    return run, (f"to{stop_at}-attempt{attempt}" if request.stop_at_step else f"attempt{attempt}")


def hyperparameters(request: TrainRequest) -> dict[str, Any]:
    """What distinguishes one trial from another: the optimiser, batch size, model and seed."""
    optim = {f"optim.{k}": (list(v) if isinstance(v, (list, tuple)) else v) for k, v in asdict(request.optim).items()}
    return {**optim, "trainer.batch_size": request.trainer.batch_size, "trainer.max_steps": request.trainer.max_steps,
            "model": request.model.name, "seed": request.seed}
