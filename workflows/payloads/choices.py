"""The values a config key may take, defined once, as the enums the config schema (`runner.config_schema`)
types its keys with, so a wrong value fails at compose time with its path. The activities check a spec
they receive (it may come from an older runner or a hand-written workflow input) against the same values
(the tuples below), and the scheduler table (`workflows.schedulers.SCHEDULERS`) has one entry per ladder kind."""

from enum import Enum


def values(choices: type[Enum]) -> tuple[str, ...]:
    """The allowed values, in their order."""
    return tuple(str(member.value) for member in choices)


class ModelInit(Enum):
    pretrained = "pretrained"
    config = "config"


class OnEmptyText(Enum):
    error = "error"
    drop = "drop"


class TaskName(Enum):
    """`task=`: what a model learns from a dataset (`activities.tasks`)."""

    sequence_classification = "sequence_classification"
    pair_classification = "pair_classification"
    regression = "regression"
    multi_label = "multi_label"
    token_classification = "token_classification"


class Truncation(Enum):
    """`task.truncation`: which text of a pair the tokenizer shortens (transformers' strategies)."""

    longest_first = "longest_first"
    only_first = "only_first"
    only_second = "only_second"
class TruncationSide(Enum):
    right = "right"
    left = "left"


class DatasetSource(Enum):
    text_folders = "text_folders"
    files = "files"
    hub = "hub"


class Accelerator(Enum):
    cpu = "cpu"
    gpu = "gpu"
    auto = "auto"


class Scheduler(Enum):
    linear = "linear"
    cosine = "cosine"
    constant = "constant"


class LadderKind(Enum):
    none = "none"
    sha = "sha"
    asha = "asha"
    hyperband = "hyperband"
    pbt = "pbt"


class LadderUnit(Enum):
    steps = "steps"
    epochs = "epochs"
    fraction = "fraction"


class SamplerName(Enum):
    tpe = "tpe"
    random = "random"
    grid = "grid"
    qmc = "qmc"
    nsga2 = "nsga2"


class WorkerQueue(Enum):
    all = "all"
    training = "training"
    orchestration = "orchestration"


class LoggerName(Enum):
    csv = "csv"
    tensorboard = "tensorboard"
    mlflow = "mlflow"
    wandb = "wandb"


class WandbMode(Enum):
    offline = "offline"
    """run files only, under the run root (`wandb sync` uploads them later)"""
    online = "online"
    disabled = "disabled"


class ProgressBarMode(Enum):
    auto = "auto"
    """when the worker's stderr is a terminal"""
    true = "true"
    false = "false"


MODEL_INITS = values(ModelInit)
ATTN_IMPLEMENTATIONS = ("", "sdpa", "eager", "flash_attention_2")
"""`model.attn_implementation` ('': transformers' default; a string key in the schema)."""
TASKS = values(TaskName)
TRUNCATIONS = values(Truncation)
DATASET_SOURCES = values(DatasetSource)
DATASET_FORMATS = ("csv", "json", "parquet")
"""`dataset.format` of `source: files` ('': from the file's extension; a string key in the schema)."""
ON_EMPTY_TEXT = values(OnEmptyText)
TRUNCATION_SIDES = values(TruncationSide)
CLASS_WEIGHTS_OFF = ("none", "")
"""`trainer.class_weights` values that mean unweighted (besides an empty list and null)."""
CLASS_WEIGHTS_AUTO = "auto"
"""`trainer.class_weights: auto`: inverse class frequency of the training split, normalised to mean 1."""
LR_SCHEDULES = values(Scheduler)
LADDER_KINDS = values(LadderKind)
LADDER_UNITS = values(LadderUnit)
SAMPLERS = values(SamplerName)
LOGGERS = values(LoggerName)
WANDB_MODES = values(WandbMode)
