"""Inputs and outputs of the activities, and the progress reports training sends to its workflow.

Payloads stay small: URIs, ids and metrics, never tensors or datasets.

No `from __future__ import annotations` in the modules that define payloads (here, specs, the workflows):
Temporal's converter calls `typing.get_type_hints` on every object it decodes, and string annotations are
compiled again each time (decoding was 4x slower; tests/unit/test_payload_types.py keeps it so).
"""

from dataclasses import dataclass, field
from typing import Any

from workflows.payloads.specs import DatasetSpec, LoggerSpec, ModelSpec, OptimSpec, ParamSpec, SamplerSpec, TaskSpec, TrainerSpec


@dataclass
class SnapshotRequest:
    dataset: DatasetSpec
    tokenizer: str
    run_root: str


@dataclass
class DatasetSnapshot:
    """A tokenised, split dataset stored once in a content-addressed folder (Arrow, memory-mapped)."""

    id: str
    uri: str
    label_names: list[str]
    split_sizes: dict[str, int]
    pad_token_id: int
    max_length: int
    reused: bool = False
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Rows per split and label name (empty for snapshots made before it was recorded, and for regression)."""
    task: TaskSpec = field(default_factory=TaskSpec)
    """What the snapshot's labels are for (`DatasetSpec.task`)."""
    label_stats: dict[str, float] = field(default_factory=dict)
    """Regression: the training split's label `mean` and `std` (a normalised task trains on
    (label - mean) / std); empty for the other tasks."""
    truncation_side: str = "right"
    """Which end of a long text the tokenizer cut (`dataset.truncation_side`): predictions cut the same end."""
    truncated_words: dict[str, int] = field(default_factory=dict)
    """Token classification: words per split left without a sub-token (cut off by `max_length`), so
    without a tag; empty when none were (and for the other tasks)."""


@dataclass
class TrainRequest:
    model: ModelSpec
    optim: OptimSpec
    trainer: TrainerSpec
    snapshot: DatasetSnapshot
    seed: int
    checkpoint_dir: str
    stop_at_step: int = 0
    """Train only until this global step (a rung boundary); 0 means trainer.max_steps. The LR schedule
    always spans trainer.max_steps, so training in segments follows the same schedule as one long run."""
    run_root: str = ""
    """When set, `checkpoint_dir` must lie inside `{run_root}/checkpoints` (refused otherwise)."""
    signal_progress: bool = True
    """Signal progress to the workflow. Sweeps turn it off (their status reads the heartbeats instead),
    which keeps their histories short."""
    logger: LoggerSpec = field(default_factory=LoggerSpec)
    result_on_cancel: bool = False
    """When cancelled, save a checkpoint and return the result (`cancelled` set) instead of ending cancelled,
    so the workflow keeps the steps trained, the checkpoint and a validation at the last step (sweeps)."""

    def stop_step(self) -> int:
        """The global step this training stops at: `stop_at_step`, else trainer.max_steps (the one rule)."""
        return self.stop_at_step or self.trainer.max_steps


@dataclass
class TrainProgress:
    """What the training activity reports to its workflow (by signal) and to Temporal (by heartbeat)."""

    step: int = 0
    max_steps: int = 0
    loss: float | None = None
    latest_checkpoint: str = ""
    attempt: int = 0
    resumed_from_step: int = 0
    val_metric: float | None = None
    checkpoint_dir: str = ""
    """The training's checkpoint folder (names the trial of a sweep)."""
    attempts_without_progress: int = 0
    """How many attempts in a row, this one included, started from the same checkpoint."""


@dataclass
class TrainResult:
    best_checkpoint: str
    last_checkpoint: str
    global_step: int
    resumed_from_step: int
    attempt: int
    best_score: float | None
    monitor: str
    steps_this_attempt: int
    final_score: float | None = None
    """The monitored metric of a validation at `global_step` (the rung metric of a ladder segment)."""
    skipped_checkpoints: list[str] = field(default_factory=list)
    """Newer checkpoints this attempt could not resume from (torn or altered), with the reason."""
    samples_per_second: float | None = None
    """Training throughput of this attempt after its first few steps (`Throughput`)."""
    val_metrics: dict[str, float] = field(default_factory=dict)
    """Every validation metric at `global_step` by its logged name (`val_loss`, `val_accuracy`,
    `val_macro_f1`; `activities.engine.callbacks.val_metrics`); empty when no validation ran at that step."""
    cancelled: bool = False
    """The training was cancelled (`TrainRequest.result_on_cancel`): it stopped at `global_step`."""
    device: str = ""
    """The device type this attempt trained on ("cuda", "cpu", "mps"); empty from workers before it."""
    gpu_seconds: float = 0.0
    """This attempt's fit in wall seconds times the CUDA devices it trained on (0 on any other device):
    what a sweep's `budget.max_gpu_hours` counts."""
    stopped_early: bool = False
    """Early stopping (`trainer.early_stopping_patience`) ended the training at `global_step`, before its
    stop step: the training is finished there (a ladder trial completes at this rung; no later segment)."""


@dataclass
class EvaluateRequest:
    model: ModelSpec
    snapshot: DatasetSnapshot
    checkpoint: str
    split: str = "test"
    batch_size: int = 64
    accelerator: str = "cpu"


@dataclass
class ClassMetrics:
    """Scores of one label on an evaluated split (`activities.metrics`); None where a ratio has nothing to
    divide by (precision of a class never predicted, recall of a class with no examples)."""

    label: str
    precision: float | None
    recall: float | None
    f1: float | None
    support: int


@dataclass
class EvalResult:
    split: str
    num_examples: int
    metrics: dict[str, float] = field(default_factory=dict)
    per_class: list[ClassMetrics] = field(default_factory=list)
    """One entry per label, in the snapshot's label order (empty in results recorded before it existed)."""
    confusion_matrix: list[list[int]] = field(default_factory=list)
    """counts[true label][predicted label], in the snapshot's label order."""
    points: list[list[float]] = field(default_factory=list)
    """Regression: [true, predicted] of up to `POINTS_KEPT` examples of the split, for the report's scatter."""


POINTS_KEPT = 2000
"""Examples of a regression split whose [true, predicted] an `EvalResult` keeps."""


@dataclass
class PredictRequest:
    model: ModelSpec
    snapshot: DatasetSnapshot
    checkpoint: str
    texts: list[str]
    accelerator: str = "cpu"


@dataclass
class Prediction:
    text: str
    label: str
    score: float
    entities: list[dict[str, Any]] = field(default_factory=list)
    """Token classification: each entity found, `{type, text, start, end, score}` (character offsets into
    `text`, end exclusive); `label` then lists them (`TYPE "text" [start:end]`)."""


@dataclass
class FinishedTrial:
    """A trial the sampler learns from: complete (value at its top rung), pruned (value where it stopped)
    or failed (no value)."""

    number: int
    params: dict[str, Any]
    state: str
    value: float | None = None
    step: int = 0
    rung_steps: list[int] = field(default_factory=list)
    """An earlier sweep's trial (`warm_start`): the global step of each rung it reached, parallel to
    `rung_values` (Optuna's intermediate values); empty for this sweep's trials."""
    rung_values: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    """A multi-objective sweep's objective vector (`SuggestRequest.directions`' order); `value` is then unused."""
    constraints: list[float] = field(default_factory=list)
    """A constrained sweep's constraint values in Optuna's form, feasible when all are <= 0
    (`workflows.objectives.sampler_constraints`)."""


@dataclass
class SuggestRequest:
    space: list[ParamSpec]
    sampler: SamplerSpec
    direction: str
    trials: list[FinishedTrial]
    number: int
    enqueued: dict[str, Any] = field(default_factory=dict)
    """`enqueue:`'s entry for this trial (empty: none): proposed through Optuna's `study.enqueue_trial`."""
    warm: list[FinishedTrial] = field(default_factory=list)
    """Earlier sweeps' trials (`warm_start.from`) the study holds before this sweep's own."""
    directions: list[str] = field(default_factory=list)
    """Two or more: a multi-objective study in these directions (each trial's `values`); `direction` unused."""


@dataclass
class Suggestion:
    number: int
    params: dict[str, Any]
    reason: str = ""
    """How the sampler chose them (a `ProposalReason`): `startup_random` (TPE before `n_startup_trials`
    trials finished), `tpe`, `random`, `qmc`, `grid` or `enqueued` (`enqueue:`); empty in results recorded before it existed."""


@dataclass
class PruneRequest:
    root: str
    """The sweep's checkpoint folder; every folder must lie inside it."""
    folders: list[str]


@dataclass
class CopyCheckpointRequest:
    """PBT's exploit: copy `source_dir`'s step checkpoint at `step` (weights, optimiser, LR schedule, global
    step) into `target_dir` as its newest step checkpoint, verifying the source's sha256 before and the
    copy's after. Both folders must lie inside `{run_root}/checkpoints`."""

    run_root: str
    source_dir: str
    target_dir: str
    step: int


@dataclass
class CopyCheckpointResult:
    checkpoint: str
    """The copy in `target_dir`."""
    sha256: str
    step: int
