"""Typed, JSON-safe run specifications resolved from the Hydra config by the runner.

These cross the Temporal boundary (workflow input, activity input), so they hold only concrete
JSON-safe types. New fields must have defaults so that running workflows keep decoding.
"""

from dataclasses import dataclass, field
from typing import Any

CLASSIFICATION_METRICS = {"val_loss": "min", "val_accuracy": "max", "val_macro_f1": "max"}
MULTI_LABEL_METRICS = {"val_loss": "min", "val_micro_f1": "max", "val_macro_f1": "max", "val_subset_accuracy": "max"}
REGRESSION_METRICS = {"val_loss": "min", "val_mse": "min", "val_mae": "min", "val_pearson": "max", "val_spearman": "max"}
TOKEN_METRICS = {"val_loss": "min", "val_f1": "max", "val_precision": "max", "val_recall": "max",
                 "val_token_accuracy": "max"}
"""Token classification: entity-level micro F1/precision/recall (`activities.ner.spans`) and the share of
labelled tokens tagged right."""
TASK_METRICS = {
    "sequence_classification": CLASSIFICATION_METRICS,
    "pair_classification": CLASSIFICATION_METRICS,
    "regression": REGRESSION_METRICS,
    "multi_label": MULTI_LABEL_METRICS,
    "token_classification": TOKEN_METRICS,
}
"""What a training's validation logs for each task (`activities.engine.fitting`,
`activities.engine.callbacks.val_metrics`): the values `trainer.monitor` takes, each with the
`trainer.monitor_mode` that means better."""
VALIDATION_METRICS = {name: mode for metrics in TASK_METRICS.values() for name, mode in metrics.items()}
"""Every task's validation metrics together (what a sweep objective or constraint may name)."""
COST_METRICS = {"latency_ms": "min", "param_count": "min", "train_seconds": "min", "peak_memory_mb": "min"}
"""What a training measures of its model's cost when asked (`trainer.measure`, or a sweep objective or
constraint naming one; `activities.engine.callbacks.cost_metrics`), each with the mode that means better.
They are reported with the validation metrics but are never `trainer.monitor`."""


@dataclass
class ModelSpec:
    """Which transformer to fine-tune and how to obtain it.

    Attributes:
        name: Short display name (the `model=` option).
        name_or_path: Hub name or local folder given to `from_pretrained`; empty when `init` is "config".
        tokenizer: Hub name or local folder of the tokenizer (defaults to `name_or_path`).
        init: "pretrained" loads weights with `from_pretrained`; "config" builds a randomly initialised
            model from `architecture` (a transformers config) with the tokenizer's vocabulary.
        architecture: transformers config fields for `init="config"` (e.g. model_type, hidden_size).
        dropout: Overrides hidden and attention dropout when set.
        attn_implementation: transformers' attention kernel ("sdpa", "eager", "flash_attention_2");
            empty leaves transformers' default.
        ignore_mismatched_sizes: Load a pretrained folder whose weights have other shapes (a classification
            head for another number of labels), initialising those afresh. Applied anyway when the folder's
            classification head has a different number of labels than the dataset.
        freeze_steps: Train only the classification head for the first this many optimiser steps (the
            encoder frozen), then everything (`activities.engine.callbacks.freeze_encoder`); 0: never frozen.
    """

    name: str
    name_or_path: str = ""
    tokenizer: str = ""
    init: str = "pretrained"
    architecture: dict[str, Any] = field(default_factory=dict)
    dropout: float | None = None
    attn_implementation: str = ""
    ignore_mismatched_sizes: bool = False
    freeze_steps: int = 0


@dataclass
class TaskSpec:
    """What the model learns (`task=`; `activities.tasks` has one module per task).

    Attributes:
        name: sequence_classification (one text, one class), pair_classification (two texts,
            `dataset.text_pair_column`, one class), regression (one text, a number), multi_label (one
            text, any number of labels) or token_classification (a list of words, one tag per word: NER).
        truncation: Which text of a pair the tokenizer shortens to `dataset.max_length`.
        normalize: Regression: train on the label standardised by the training split's mean and standard
            deviation (recorded in the snapshot); predictions and metrics are in the label's own units.
        label_separator: multi_label: what joins several labels in one text cell (csv).
        threshold: multi_label: the sigmoid probability above which a label is predicted.
        label_all_tokens: Token classification: label every sub-token of a word with the word's tag (a
            B- tag's continuation sub-tokens get its I- tag) instead of only the first (`activities.ner.align`).
    """

    name: str = "sequence_classification"
    truncation: str = "longest_first"
    normalize: bool = False
    label_separator: str = ";"
    threshold: float = 0.5
    label_all_tokens: bool = False


TASK_KEYS_LEFT_OUT: dict[str, Any] = {"label_all_tokens": False, "label_separator": ";", "threshold": 0.5}
"""TaskSpec keys added after the task group, left out of run, sweep and snapshot identities while they hold
these values, so the identities of runs from before each key stay (`task_identity`)."""


def task_identity(task: dict[str, Any]) -> dict[str, Any]:
    """A task section as identities hold it: without the later keys at their defaults."""
    return {key: value for key, value in task.items()
            if key not in TASK_KEYS_LEFT_OUT or value != TASK_KEYS_LEFT_OUT[key]}


@dataclass
class DatasetSpec:
    """Where labelled text comes from and how it is split and tokenised.

    Attributes:
        name: Display name (the `dataset=` option).
        source: "text_folders" (one sub-folder of .txt files per class), "files" (local csv/json/parquet
            through Hugging Face `datasets`) or "hub" (a dataset name on the Hugging Face hub).
        path: Folder for text_folders; hub dataset name for hub.
        data_files: split name -> local file, for source "files".
        format: csv | json | parquet, for source "files".
        hub_config: Optional hub configuration name.
        text_column: Column holding the input text.
        label_column: Column holding the class label (strings or ints).
        label_names: Fixed label order; empty means sorted unique labels of the training split.
        validation_fraction: Held out of train for model selection when no validation split exists.
        test_fraction: Held out of train for the final evaluation when no test split exists.
        split_seed: Seed of the train/validation/test split.
        max_length: Tokeniser truncation length.
        max_samples: Keep at most this many training examples (0 = all); for quick runs.
        encoding: Text encoding of csv/json files (a Python codec name); utf-8 also accepts a byte-order mark.
        on_empty_text: "error" refuses rows whose text is empty (naming them); "drop" leaves them out.
        text_pair_column: Column holding the second text of pair_classification ('' for other tasks).
        task: What the model learns; the resolver sets it from the `task` config group.
        truncation_side: Which end of a text longer than `max_length` the tokenizer cuts: "right" (keeps the
            beginning) or "left" (keeps the end).
    """

    name: str
    source: str
    path: str = ""
    data_files: dict[str, str] = field(default_factory=dict)
    format: str = ""
    hub_config: str = ""
    text_column: str = "text"
    label_column: str = "label"
    label_names: list[str] = field(default_factory=list)
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    max_length: int = 128
    max_samples: int = 0
    encoding: str = "utf-8"
    on_empty_text: str = "error"
    text_pair_column: str = ""
    task: TaskSpec = field(default_factory=TaskSpec)
    truncation_side: str = "right"


@dataclass
class OptimSpec:
    """AdamW with a warmup then decay schedule defined over `TrainerSpec.max_steps`; `fused` uses torch's
    fused AdamW kernel (one kernel for all parameters; the fast choice on a GPU)."""

    name: str = "adamw"
    lr: float = 3e-4
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    warmup_ratio: float = 0.06
    scheduler: str = "linear"
    fused: bool = False
    layer_decay: float = 1.0
    """Layer-wise LR decay in (0, 1]: the head trains at `lr`, encoder layer L (0..N-1) at lr * decay^(N - L),
    the embeddings at lr * decay^(N + 1) (`activities.engine.layer_decay`); 1.0: one lr for all."""


@dataclass
class TrainerSpec:
    """Lightning Trainer settings and the checkpoint/heartbeat cadence."""

    accelerator: str = "cpu"
    devices: int = 1
    precision: str = "32-true"
    max_steps: int = 200
    batch_size: int = 32
    eval_batch_size: int = 64
    checkpoint_every_n_steps: int = 50
    val_every_n_steps: int = 50
    keep_last_checkpoints: int = 2
    monitor: str = "val_loss"
    monitor_mode: str = "min"
    num_workers: int = 0
    gradient_clip_val: float = 1.0
    heartbeat_timeout_s: float = 60.0
    progress_interval_s: float = 10.0
    max_attempts: int = 5
    retry_max_interval_s: float = 10.0
    deterministic: bool = False
    measure: list[str] = field(default_factory=list)
    """`COST_METRICS` to measure at each validation (besides the validation metrics)."""
    accumulate_grad_batches: int = 1
    """Batches whose gradients add up to one optimiser step. Steps everywhere (max_steps, checkpoints,
    validations, rungs) count optimiser steps."""
    early_stopping_patience: int = 0
    """Stop once `monitor` has not improved for this many validations in a row (Lightning's EarlyStopping);
    0: never."""
    early_stopping_min_delta: float = 0.0
    """The least change of `monitor` that counts as an improvement for early stopping."""
    class_weights: str | list[float] = field(default_factory=list)
    """Weighted cross-entropy for training: empty (or "none") unweighted, "auto" inverse class frequency of
    the training split normalised to mean 1, or one weight per class in label order."""


@dataclass
class LoggerSpec:
    """Where training metrics go besides the CSV log in each checkpoint folder (which is always written:
    the learning-curve plots read it). A Lightning logger per training segment, named by run, trial,
    rung and attempt.

    Attributes:
        name: `csv` (only the CSV log), `tensorboard`, `mlflow` or `wandb`.
        save_dir: TensorBoard's folder (empty: `{run_root}/tensorboard`) or W&B's (empty: `{run_root}/wandb`).
            Must lie inside the run root.
        tracking_uri: MLflow's tracking URI: `http(s)://` a tracking server, or `sqlite:///PATH` inside
            the run root; empty: `sqlite:///{run_root}/mlflow.db`.
        experiment_name: MLflow experiment; empty: the sweep's or multirun's id, else the run's.
        project: W&B project; empty: `train-tune`.
        entity: W&B entity (user or team); empty: W&B's default.
        mode: W&B mode: `offline` (run files only, no network), `online` or `disabled`.
        group: The sweep or multirun this training belongs to (set by the runner, not by config): its MLflow
            run nests under the group's parent run, its W&B run gets this group; empty: a single run.
    """

    name: str = "csv"
    save_dir: str = ""
    tracking_uri: str = ""
    experiment_name: str = ""
    project: str = ""
    entity: str = ""
    mode: str = "offline"
    group: str = ""


@dataclass
class TaskQueues:
    """Task queues of this run (names from `workflows.payloads.queues`, overridable in config)."""

    training: str
    orchestration: str


@dataclass
class ObjectiveSpec:
    """One objective of a multi-objective sweep (`objectives:`): a validation metric (`VALIDATION_METRICS`)
    or a cost metric (`COST_METRICS`) and the direction that means better. `weight` (>= 0) scalarises: where
    any is set, `results` also names the trial with the best weighted sum of the objectives, each scaled to
    [0, 1] over the sweep's trials at the top rung."""

    metric: str
    direction: str = "minimize"
    weight: float = 0.0


@dataclass
class ConstraintSpec:
    """An outcome constraint of a sweep (`constraints:`): `metric` must stay <= `max` and/or >= `min`. A
    trial that breaks one is infeasible: never promoted over a feasible one, never reported as best."""

    metric: str
    max: float | None = None
    min: float | None = None


@dataclass
class ParamSpec:
    """One searched parameter, targeting a config key (e.g. `optim.lr`).

    Attributes:
        key: The config key the value overrides.
        type: "float", "int" or "categorical".
        low, high: Range for float/int (inclusive).
        log: Sample on a log scale (needs low > 0).
        step: Discretisation step for float/int (None: continuous float, step 1 for int).
        choices: Values for categorical.
        when: The parameter is active only in trials where every named parameter took that value
            (`workflows.conditional_space`); empty: always. An inactive parameter keeps the base config's value.
    """

    key: str
    type: str = "float"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] = field(default_factory=list)
    when: dict[str, Any] = field(default_factory=dict)


@dataclass
class SamplerSpec:
    """Optuna sampler: tpe | random | grid | qmc, with its seed."""

    name: str = "tpe"
    seed: int = 0
    n_startup_trials: int = 5
    max_history: int = 300
    """TPE learns from at most this many finished trials (the best quarter and the most recent)."""
    deterministic: bool = True
    """Decide independently of timing (`workflows.sampler_history`, `workflows.schedulers.asha_ordered`):
    proposal n learns from the first-rung results of the trials below n - lag (waiting for them), asha
    applies results in a fixed order. False decides
    in arrival order, as sweeps started before this option do (behind `workflow.patched`)."""
    lag: int = 4
    """Deterministic proposals: trial n learns from the trials numbered below n - lag."""
    population_size: int = 50
    """`nsga2`: trials per generation (>= 2; Optuna's default 50); it breeds once one generation is complete."""


@dataclass
class PbtSpec:
    """Population-based training (`ladder=pbt`; `workflows.schedulers.pbt`): a population trained side by
    side; at each perturbation boundary the bottom quantile copies a top member's checkpoint (exploit) and
    perturbs its parameters (explore). Checked by `workflows.schedulers.pbt.validate`."""

    population: int = 4
    """Members trained side by side (>= 2)."""
    perturbation_interval: int = 50
    """Global steps between perturbation boundaries (>= 1)."""
    quantile: float = 0.25
    """Fraction of the ranked members in the bottom (exploiting) and top (exploited) quantile, in (0, 0.5]."""
    resample_probability: float = 0.25
    """Probability that a parameter is drawn afresh from the search space instead of perturbed or kept."""
    perturbation_factors: list[float] = field(default_factory=lambda: [0.8, 1.2])
    """A continuous parameter not resampled is multiplied by one of these (each > 0), chosen at random."""
    burn_in: int = 0
    """Members below this global step are neither ranked, exploited nor perturbed (>= 0)."""
