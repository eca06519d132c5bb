"""Checks of the training options people expect from a fine-tuning runner (gradient accumulation, early
stopping, class weights, truncation side, layer-wise LR decay, a frozen encoder at first), at resolve time:
each error is one line naming the key, the value and what is valid. A sweep's trial values pass through
the same checks (`runner.resolve.validate_specs`)."""

from __future__ import annotations

from pathlib import Path

from activities.class_weights import normalised_class_weights
from activities.data_sources import read_dataset
from runner.check_values import extremes
from workflows.payloads.choices import TRUNCATION_SIDES
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import DatasetSpec, ModelSpec, OptimSpec, ParamSpec, TrainerSpec


def check_training_options(model: ModelSpec, dataset: DatasetSpec, optim: OptimSpec, trainer: TrainerSpec) -> None:
    """The ranges of the options; the length of a class-weight list is checked by `check_class_count`."""
    whole = {"trainer.accumulate_grad_batches": (trainer.accumulate_grad_batches, 1),
             "trainer.early_stopping_patience": (trainer.early_stopping_patience, 0),
             "model.freeze_steps": (model.freeze_steps, 0)}
    for key, (value, least) in whole.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{key} is {value!r}, but must be a whole number >= {least}")
    if not trainer.early_stopping_min_delta >= 0:
        raise ConfigError(f"trainer.early_stopping_min_delta is {trainer.early_stopping_min_delta}, but must be >= 0")
    if not 0 < optim.layer_decay <= 1:
        raise ConfigError(f"optim.layer_decay is {optim.layer_decay}, but must be in (0, 1] (1.0: every layer at "
                          f"optim.lr)")
    if dataset.truncation_side not in TRUNCATION_SIDES:
        raise ConfigError(f"dataset.truncation_side is '{dataset.truncation_side}', but must be one of: "
                          f"{', '.join(TRUNCATION_SIDES)}")
    trainer.class_weights = normalised_class_weights(trainer.class_weights)
    if trainer.class_weights and dataset.task.name in ("regression", "multi_label"):
        why = "has no classes to weigh" if dataset.task.name == "regression" else "trains one sigmoid per label, not a softmax"
        raise ConfigError(f"trainer.class_weights is {trainer.class_weights!r}, but task {dataset.task.name} {why} "
                          "(class weights weigh a softmax's cross-entropy): leave it at none")


def check_class_count(trainer: TrainerSpec, dataset: DatasetSpec) -> None:
    """A class-weight list has one weight per class, where the classes are known before anything starts (the
    label names, a text folder's sub-folders, a local file's labels); a hub dataset's are checked by the
    training (`activities.engine.class_weights`)."""
    if not isinstance(trainer.class_weights, list) or not trainer.class_weights:
        return
    classes = class_count(dataset)
    if classes is not None and classes != len(trainer.class_weights):
        raise ConfigError(f"trainer.class_weights is {trainer.class_weights} ({len(trainer.class_weights)} weights), "
                          f"but dataset '{dataset.name}' has {classes} classes: give one weight per class in label "
                          f"order, or auto")


def class_count(dataset: DatasetSpec) -> int | None:
    """How many classes the dataset has, where that is known without downloading it (None for the hub)."""
    if dataset.label_names:
        return len(dataset.label_names)
    if dataset.source == "text_folders":
        root = Path(dataset.path).expanduser()
        return len([d for d in root.iterdir() if d.is_dir() and not d.name.startswith(("_", "."))])
    if dataset.source == "files":
        return len(read_dataset(dataset, keep=False).label_names)
    return None


def check_sweep_options(kind: str, unit: str, trainer: TrainerSpec, space: list[ParamSpec]) -> None:
    """The options a sweep's ladder constrains: population-based training keeps every member training to
    the end (no early stopping) and copies optimiser states between members (one layer-decay group layout:
    a searched `optim.layer_decay` stays below 1); rungs in epochs or fractions become steps once for the
    whole sweep, by the base config's `trainer.accumulate_grad_batches` (which is then not searched)."""
    searched = {p.key: p for p in space}
    if kind == "pbt" and (trainer.early_stopping_patience > 0 or "trainer.early_stopping_patience" in searched):
        raise ConfigError(f"trainer.early_stopping_patience is {trainer.early_stopping_patience} (or searched) with "
                          f"ladder=pbt, but population-based training ranks every member to the end: set it to 0")
    decay = searched.get("optim.layer_decay")
    if kind == "pbt" and decay is not None and any(value >= 1 for _, value in extremes(decay)):
        raise ConfigError("search_space.params.optim.layer_decay reaches 1.0 with ladder=pbt, but members exploit "
                          "each other's optimiser state, whose groups differ between decay 1.0 (two groups) and "
                          "below: keep it below 1 (e.g. high: 0.99)")
    if unit != "steps" and "trainer.accumulate_grad_batches" in searched:
        raise ConfigError(f"search_space.params has trainer.accumulate_grad_batches with ladder.unit '{unit}', but "
                          f"the sweep turns rungs into optimiser steps once, by the base config's value: use "
                          f"ladder.unit=steps, or do not search it")
