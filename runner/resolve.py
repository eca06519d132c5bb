"""Validate a composed config and resolve it into the typed, JSON-safe workflow input.

Everything a run needs is checked here, before any workflow starts: values and ranges, dataset files
and their columns, model folders. Each error names the key, the value and what would be valid.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from activities.data_sources import check_dataset_spec, source_fingerprint
from activities.models import check_model_spec
from activities.paths import check_name
from activities.trackers import check_logger_spec
from runner.check_keys import check_known_keys
from runner.check_training_options import check_class_count, check_training_options
from runner.check_values import check_accelerator, check_finite, check_monitor, check_plain, check_run_values
from runner.connect import check_connection_settings
from runner.notices import warn
from runner.schedule_config import resolve_schedule
from workflows.payloads.choices import CLASS_WEIGHTS_OFF
from workflows.payloads.errors import ConfigError
from workflows.payloads.runs import TrainEvalInput
from workflows.payloads.specs import (
    COST_METRICS,
    DatasetSpec,
    LoggerSpec,
    ModelSpec,
    OptimSpec,
    TaskQueues,
    TaskSpec,
    TrainerSpec,
    task_identity,
)

HASHED_KEYS = ("model", "dataset", "trainer", "optim", "seed", "predict_texts")
"""What defines a run's result. Where it runs (temporal, run_root) is not part of its identity. A non-empty
`schedule` is too (an empty one is left out, so configs without one keep the identity they had)."""


def to_plain(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain JSON-safe data (enums by name); interpolation errors as ConfigError."""
    try:
        container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True, enum_to_str=True)
    except MissingMandatoryValue as error:
        raise ConfigError(f"{error.full_key} is not set (???), but this option needs a value") from error
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", "") or "config"
        raise ConfigError(f"{key} does not resolve: {str(error).splitlines()[0]}") from error
    return json.loads(json.dumps(container, default=lambda v: v.name if isinstance(v, Enum) else str(v)))


def config_hash(plain: dict[str, Any], data: str = "") -> str:
    """sha256 of the canonical JSON of the keys that define the run and, when given, of the dataset's
    bytes (`data`: `source_fingerprint`), so a run over an edited data file is another run, not the old one."""
    identity = {key: plain.get(key) for key in HASHED_KEYS}
    identity.update(section_identities(plain))
    if plain.get("schedule"):
        identity["schedule"] = plain["schedule"]
    if data:
        identity["data"] = data
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


IDENTITY_DEFAULTS: dict[str, dict[str, Any]] = {
    "trainer": {"measure": [], "accumulate_grad_batches": 1, "early_stopping_patience": 0,
                "early_stopping_min_delta": 0.0, "class_weights": []},
    "model": {"freeze_steps": 0},
    "optim": {"layer_decay": 1.0},
    "dataset": {"truncation_side": "right", "text_pair_column": ""},
}
"""Keys added after runs existed, with the value that changes nothing: a run's or a sweep's identity leaves
them out at that value, so configs from before the keys keep their ids."""
OFF: tuple[Any, ...] = (None, [], *CLASS_WEIGHTS_OFF)
"""Values of `trainer.class_weights` that mean unweighted, as its default does."""


def without_new_defaults(identity: dict[str, Any]) -> dict[str, Any]:
    """`identity` (config sections by name) without the `IDENTITY_DEFAULTS` keys at their default value."""
    out = dict(identity)
    for section, defaults in IDENTITY_DEFAULTS.items():
        values = out.get(section)
        if isinstance(values, dict):
            out[section] = {key: value for key, value in values.items()
                            if key not in defaults or not _is_default(key, value, defaults[key])}
    return out


def _is_default(key: str, value: Any, default: Any) -> bool:
    if key == "class_weights":
        return value in OFF
    return value == default and type(value) is type(default)


def trainer_identity(trainer: Any) -> Any:
    """The trainer section as a run's or a sweep's identity holds it: without an empty `measure`, nor the
    newer keys at their defaults (`IDENTITY_DEFAULTS`), so configs from before them keep their ids."""
    return without_new_defaults({"trainer": trainer})["trainer"]


DEFAULT_TASK = asdict(TaskSpec())
"""The task of every config from before the `task` group: left out of identities, so their ids stay."""


def section_identities(plain: dict[str, Any]) -> dict[str, Any]:
    """The sections as a run's or a sweep's identity holds them: without the newer keys at their defaults
    (`without_new_defaults`), and with its `task` unless it is the default one (then the key is absent, as
    before the group existed)."""
    out = without_new_defaults({key: plain.get(key) for key in IDENTITY_DEFAULTS})
    task = plain.get("task")
    if task and task != DEFAULT_TASK:
        out["task"] = task_identity(task)
    return out


def data_fingerprint(dataset: DatasetSpec) -> str:
    """The dataset content a run's identity holds (`config_hash`): its files' bytes for `source: files`
    (`source_fingerprint`); empty for the other sources, whose config names their content."""
    return source_fingerprint(dataset) if dataset.source == "files" else ""


def _positive(key: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{key} is {value}, but must be {'>= 0' if allow_zero else '> 0'}")


def validate_specs(model: ModelSpec, dataset: DatasetSpec, optim: OptimSpec, trainer: TrainerSpec,
                   dataset_files: bool = True) -> None:
    """Range and consistency checks; the dataset and model checks read headers and folders only
    (`dataset_files=False`: not the dataset's files, for a sweep's trial values, which cannot change them)."""
    for section, spec in (("model", model), ("dataset", dataset), ("optim", optim), ("trainer", trainer)):
        check_finite(section, spec)
    _positive("optim.lr", optim.lr)
    _positive("optim.weight_decay", optim.weight_decay, allow_zero=True)
    if not 0.0 <= optim.warmup_ratio < 1.0:
        raise ConfigError(f"optim.warmup_ratio is {optim.warmup_ratio}, but must be in [0, 1)")
    if len(optim.betas) != 2 or not all(0.0 <= b < 1.0 for b in optim.betas):
        raise ConfigError(f"optim.betas is {optim.betas}, but must be two values in [0, 1)")
    for key in ("max_steps", "batch_size", "eval_batch_size", "checkpoint_every_n_steps", "val_every_n_steps",
                "keep_last_checkpoints", "devices", "max_attempts"):
        _positive(f"trainer.{key}", getattr(trainer, key))
    _positive("trainer.num_workers", trainer.num_workers, allow_zero=True)
    if trainer.heartbeat_timeout_s < 2:
        raise ConfigError(f"trainer.heartbeat_timeout_s is {trainer.heartbeat_timeout_s}, but must be >= 2")
    if trainer.retry_max_interval_s < 1:
        raise ConfigError(f"trainer.retry_max_interval_s is {trainer.retry_max_interval_s}, but must be >= 1 "
                          "(seconds between attempts of a training; the first retry waits 1 s)")
    if trainer.monitor_mode not in ("min", "max"):
        raise ConfigError(f"trainer.monitor_mode is '{trainer.monitor_mode}', but must be 'min' or 'max'")
    check_monitor(trainer.monitor, trainer.monitor_mode, task=dataset.task.name)
    unknown = [name for name in trainer.measure if name not in COST_METRICS]
    if unknown:
        raise ConfigError(f"trainer.measure has '{unknown[0]}', but may only name: {', '.join(COST_METRICS)}")
    if optim.fused and trainer.precision.startswith("16") and trainer.gradient_clip_val:
        raise ConfigError(f"optim.fused is true with trainer.precision '{trainer.precision}' and "
                          f"trainer.gradient_clip_val {trainer.gradient_clip_val}, but a fused optimiser unscales fp16 "
                          "gradients itself, so they cannot be clipped: use precision bf16-mixed, "
                          "gradient_clip_val=0 or optim.fused=false")
    check_run_values(model, dataset, trainer)
    check_training_options(model, dataset, optim, trainer)
    check_model_spec(model)
    if dataset_files:
        check_class_count(trainer, dataset)
        for note in check_dataset_spec(dataset):
            warn(note)


def validate_trial(run: TrainEvalInput, temporal: dict[str, Any]) -> None:
    """The rules of a single run, for a run given a sweep trial's values (its dataset files are the base's)."""
    validate_specs(run.model, run.dataset, run.optim, run.trainer, dataset_files=False)
    check_accelerator(run.trainer, temporal)


def resolve_run(cfg: DictConfig) -> tuple[TrainEvalInput, dict[str, Any]]:
    """Validate `cfg` and build the workflow input; returns it with the plain resolved config (for the memo).

    Raises:
        ConfigError: on any invalid value, before anything starts.
    """
    plain = to_plain(cfg)
    check_known_keys(plain)  # a key added with `+` or removed with `~` is named here, not in a traceback
    check_name("experiment_name", str(plain["experiment_name"]))
    check_plain(plain)
    run_root = str(Path(plain["run_root"]).expanduser().resolve())
    model = ModelSpec(**plain["model"])
    if model.init == "config" and not model.tokenizer:
        raise ConfigError("model.tokenizer is empty, but init 'config' needs a tokenizer (hub name or folder)")
    model.tokenizer = model.tokenizer or model.name_or_path
    dataset = DatasetSpec(**plain["dataset"])
    dataset.task = TaskSpec(**plain["task"])
    dataset.data_files = {split: path for split, path in dataset.data_files.items() if path}
    optim = OptimSpec(**plain["optim"])
    trainer = TrainerSpec(**plain["trainer"])
    validate_specs(model, dataset, optim, trainer)
    temporal = plain["temporal"]
    check_accelerator(trainer, temporal)

    check_connection_settings(temporal)
    logger = LoggerSpec(**plain["logger"])
    check_logger_spec(logger, run_root)
    run = TrainEvalInput(
        experiment=plain["experiment_name"],
        model=model,
        dataset=dataset,
        optim=optim,
        trainer=trainer,
        queues=TaskQueues(training=temporal["training_queue"], orchestration=temporal["orchestration_queue"]),
        run_root=run_root,
        seed=int(plain["seed"]),
        config_hash=config_hash(plain, data_fingerprint(dataset)),
        predict_texts=list(plain["predict_texts"]),
        logger=logger,
    )
    run.schedule = resolve_schedule(plain["schedule"], run, lambda scheduled: validate_trial(scheduled, temporal))
    return run, plain
