"""What a single run (TrainEvalWorkflow) and a multirun (CoordinatorWorkflow) take, answer and return:
their inputs, progress, status and results, and the states a coordinator's job goes through.

No `from __future__ import annotations` (payload types; see workflows/payloads/messages.py).
"""

from dataclasses import dataclass, field
from typing import Any

from workflows.payloads.messages import ClassMetrics, DatasetSnapshot, Prediction, TrainProgress, TrainResult
from workflows.payloads.specs import DatasetSpec, LoggerSpec, ModelSpec, OptimSpec, TaskQueues, TrainerSpec

PENDING, RUNNING, COMPLETED, FAILED, CANCELLED = "pending", "running", "completed", "failed", "cancelled"
"""The states of a coordinator's job (`JobState.state`)."""
ENDED = (COMPLETED, FAILED, CANCELLED)


@dataclass
class ScheduledParams:
    """From global step `step` on, a single run trains with `params` (config keys such as `optim.lr`, as a
    sweep's search parameters) set over its config's values and the earlier entries' (`schedule:`)."""

    step: int = 0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainEvalInput:
    experiment: str
    model: ModelSpec
    dataset: DatasetSpec
    optim: OptimSpec
    trainer: TrainerSpec
    queues: TaskQueues
    run_root: str
    seed: int = 0
    config_hash: str = ""
    predict_texts: list[str] = field(default_factory=list)
    snapshot: DatasetSnapshot | None = None
    """A snapshot made beforehand (a coordinator makes each distinct one once); None: make it here."""
    job_index: int = -1
    """Position of this run in its coordinator (its Hydra job number); -1 when run alone."""
    logger: LoggerSpec = field(default_factory=LoggerSpec)
    upsert_best_metric: bool = False
    """The namespace has train-tune's search attributes (`workflows.search_attributes`): the workflow
    sets TrainTuneBestMetric as results arrive."""
    schedule: list[ScheduledParams] = field(default_factory=list)
    """Per-step parameter changes (steps increasing, each below trainer.max_steps): the run trains one
    segment per entry, resuming from its own checkpoint (`workflows.param_schedule`); empty: one training."""


@dataclass
class JobProgress:
    """What a child run forwards to its coordinator (by signal) whenever its training reports."""

    job_index: int
    progress: TrainProgress


@dataclass
class TrainEvalResult:
    metrics: dict[str, float]
    best_checkpoint: str
    dataset_snapshot_id: str
    config_hash: str
    train: TrainResult
    predictions: list[Prediction] = field(default_factory=list)
    label_names: list[str] = field(default_factory=list)
    """The snapshot's labels; index i is the model's class i (empty in results recorded before it existed)."""
    per_class: list[ClassMetrics] = field(default_factory=list)
    """Test scores per label, in `label_names` order (`EvalResult.per_class`)."""
    confusion_matrix: list[list[int]] = field(default_factory=list)
    """Test counts[true label][predicted label], in `label_names` order."""
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """The snapshot's rows per split and label (`DatasetSnapshot.class_counts`)."""
    points: list[list[float]] = field(default_factory=list)
    """Regression: test [true, predicted] pairs (`EvalResult.points`), for the report's scatter."""
    task: str = ""
    """The run's task (`TaskSpec.name`); empty in results recorded before tasks: sequence_classification."""
    note: str = ""
    """Anything the run did that its user should know: a cancel that came after the training's last step."""


@dataclass
class RunStatus:
    """Answer of the `status` query: which stage runs and the latest training progress."""

    stage: str
    progress: TrainProgress
    snapshot_id: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


LEADERBOARD_METRIC = "accuracy"
"""The test metric that ranks finished classification runs (leaderboards, TrainTuneBestMetric)."""
LEADERBOARD_METRICS = ("micro_f1", "f1", "pearson", LEADERBOARD_METRIC)
"""The test metric that ranks each task's finished runs, the first a run reports, higher being better:
micro-F1 (multi-label, which reports its subset accuracy as `accuracy` too), entity F1 (token
classification), Pearson's r (regression), accuracy (sequence and pair classification)."""


def leaderboard_metric(metrics: dict[str, float]) -> str:
    """The metric that ranks a run with these test `metrics` (`LEADERBOARD_METRIC` when it has none of them)."""
    return next((name for name in LEADERBOARD_METRICS if name in metrics), LEADERBOARD_METRIC)


@dataclass
class CoordinatorJob:
    index: int
    overrides: list[str]
    run: TrainEvalInput


@dataclass
class CoordinatorInput:
    name: str
    jobs: list[CoordinatorJob]
    parallelism: int
    queues: TaskQueues
    output_dir: str = ""
    """Where the runner keeps this sweep's outputs (Hydra's sweep dir); `results` writes beside it."""
    upsert_best_metric: bool = False
    """The namespace has train-tune's search attributes: each child gets its own model, dataset and
    config hash, and TrainTuneBestMetric is the best finished job's test accuracy."""


@dataclass
class JobState:
    index: int
    overrides: list[str]
    workflow_id: str
    state: str = PENDING
    step: int = 0
    max_steps: int = 0
    loss: float | None = None
    val_metric: float | None = None
    latest_checkpoint: str = ""
    attempt: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    best_checkpoint: str = ""
    error: str = ""
    started_at: str = ""
    ended_at: str = ""


@dataclass
class CoordinatorStatus:
    name: str
    parallelism: int
    done: bool
    jobs: list[JobState]
    output_dir: str = ""
