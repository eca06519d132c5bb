"""The state and messages of LadderSweepWorkflow: its input, carried state (brackets, parked and archived
results), the `extend` request, the rung table rows and its result, and the constants naming trial states.
Pure data: the workflow (`workflows.ladder_sweep`) and the schedulers (`workflows.schedulers`) share it.

No `from __future__ import annotations` (payload types; see workflows/payloads/messages.py).
"""

from dataclasses import dataclass, field
from typing import Any

from workflows.payloads.budget import BudgetSpec, BudgetUsed
from workflows.payloads.messages import DatasetSnapshot, EvalResult, FinishedTrial
from workflows.payloads.records import ArchiveIndex, Decision, TrialState, TrialStateName
from workflows.payloads.runs import TrainEvalInput
from workflows.payloads.specs import ConstraintSpec, ModelSpec, ObjectiveSpec, ParamSpec, PbtSpec, SamplerSpec
from workflows.payloads.warm_start import WarmStart

LIVE_STATES: tuple[TrialStateName, ...] = ("pending", "running", "promoted")
"""A live trial will train again; `waiting` ones wait for their rung's decision; the rest are final."""
FINAL_STATES: tuple[TrialStateName, ...] = ("stopped", "completed", "failed")
HELD_LEADERS = 3
"""The best max(HELD_LEADERS, keep_checkpoints) trials stay in the state (never archived): the result's best
trial, the checkpoints pruning keeps, and the completed trials an `extend` with rungs re-opens."""
DECISIONS_PER_TRIAL = 4
"""An archive part is due when archive_batch trials, or DECISIONS_PER_TRIAL x archive_batch decisions, wait."""
PROBE_AGREEMENT = 0.7
"""`ladder.probe_agreement`'s default: a rung probe of 6-10 trials samples a rung whose true Spearman with the
top is 0.24 (the search-efficiency benchmark's `crossing3`, 3 of 81 steps) at >= 0.5 a quarter of the time, at
>= 0.7 about a tenth (benchmarks/README.md)."""
PRUNE_BATCH = 200
"""Checkpoint folders per `prune_checkpoints` call (a sha rung's close may doom thousands at once)."""


@dataclass
class RungArchive:
    """Results at one rung of a bracket of the trials archived so far: how many, and the best of them
    (trial numbers and values, best first), as many as a promotion decision at that rung can reach."""

    count: int = 0
    numbers: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass
class Parked:
    """Trials of a bracket waiting at a rung for its decision (or, once promoted, for a free slot) whose
    records are in the archive: what the decisions need of each, as parallel lists (compact when encoded)."""

    numbers: list[int] = field(default_factory=list)
    rungs: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    """The trial's result at its rung."""
    parts: list[int] = field(default_factory=list)
    """The archive part holding its record."""
    targets: list[int] = field(default_factory=list)
    """-1 while it waits; the rung it was promoted towards once promoted (it is loaded back to train)."""

    def drop(self, numbers: set[int]) -> None:
        keep = [i for i, n in enumerate(self.numbers) if n not in numbers]
        self.numbers = [self.numbers[i] for i in keep]
        self.rungs = [self.rungs[i] for i in keep]
        self.values = [self.values[i] for i in keep]
        self.parts = [self.parts[i] for i in keep]
        self.targets = [self.targets[i] for i in keep]


@dataclass
class BracketState:
    rungs: list[int]
    """Rung budgets in global training steps."""
    size: int
    proposed: list[int] = field(default_factory=list)
    decided: list[int] = field(default_factory=list)
    """Rung indexes whose synchronous promotion has been decided."""
    archived: list[RungArchive] = field(default_factory=list)
    """Per rung, the results of this bracket's archived trials (which `proposed` no longer lists)."""
    archived_trials: int = 0
    """Trials of this bracket in the archive, parked ones included."""
    parked: Parked = field(default_factory=Parked)
    frontier: list[int] = field(default_factory=list)  # per rung (deterministic asha): `schedulers.asha_ordered`
    promoted: list[list[int]] = field(default_factory=list)  # per rung, promoted not yet applied: `asha_ordered.queue`
    schedules: list[list[str]] = field(default_factory=list)  # per rung, its results' LR schedules: `accounting`
    probe: bool = False
    """The rung probe's bracket (`ladder.probe_trials`): its trials train to the top rung unpruned."""


@dataclass
class RungProbe:
    """`ladder.probe_trials`: the sweep's first trials train to the top rung unpruned; once all have ended,
    the ladder starts at the first rung whose ranking of them agrees with the top's
    (`workflows.schedulers.rung_probe`)."""

    first_rung: int = -1
    """The probe bracket's rung the ladder's brackets start at; -1 while the probe runs."""
    agreement: list[float] = field(default_factory=list)
    """Per rung below the top, Spearman's rank correlation of the probe trials' results there with their
    results at the top (NaN where undefined)."""


@dataclass
class SweepState:
    """Everything the sweep knows; carried across continue-as-new."""

    trials: list[TrialState] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    brackets: list[BracketState] = field(default_factory=list)
    snapshot: DatasetSnapshot | None = None
    steps_per_epoch: int = 0
    paused: bool = False
    stopping: bool = False
    stop_requested: list[int] = field(default_factory=list)
    runs: int = 1
    """Workflow runs so far (1 + continue-as-new hand-offs)."""
    extra_rungs: list[int] = field(default_factory=list)
    """Rungs (steps) added by `extend`; brackets added later get them too."""
    next_number: int = 0
    """The number the next new trial gets (archived trials left the table)."""
    archive: ArchiveIndex = field(default_factory=ArchiveIndex)
    archived_steps: int = 0
    archived_best: float | None = None
    """The best finite rung score of the archived trials (`direction`-wise)."""
    sampler_memory: list[FinishedTrial] = field(default_factory=list)
    """The archived trials the sampler may still learn from (its window over them; see `sampler_window`)."""
    parked_doomed: list[list[int]] = field(default_factory=list)
    """[number, rung] of parked trials the ladder stopped, whose checkpoints the next prune deletes."""
    ordered: bool | None = None  # decisions independent of timing: set once (`workflows.sweep_modes.fix_modes`)
    by_promotion: bool | None = None  # ordered asha applies rungs >= 1 in promotion order: set once, as `ordered`
    stopped_by_user: list[int] = field(default_factory=list)  # trials the user stopped (`stop --trial`)
    budget: BudgetUsed = field(default_factory=BudgetUsed)  # what the sweep used of its budget: `workflows.budget`
    snapshots: dict[str, DatasetSnapshot] = field(default_factory=dict)
    """A sweep searching models of several tokenizers: the snapshot of each tokenizer but the first (whose is
    `snapshot`), by tokenizer (`workflows.tokenizer_snapshots`)."""
    pareto: bool | None = None
    """Ranked by objective vectors and constraints (`workflows.schedulers.mo_ranking`): set once, as `ordered`."""
    probe: RungProbe | None = None
    """The rung probe of a sweep with `ladder.probe_trials` (None without one)."""


@dataclass
class LadderSweepInput:
    name: str
    base: TrainEvalInput
    space: list[ParamSpec]
    sampler: SamplerSpec
    n_trials: int
    rungs: list[float]
    """Rung budgets in `unit`; for hyperband, its brackets span rungs[0] .. rungs[-1]."""
    eta: int = 3
    direction: str = "minimize"
    parallelism: int = 2
    kind: str = "sha"
    unit: str = "steps"
    keep_checkpoints: int = 3
    """Checkpoints of final, demoted trials are deleted unless the trial ranks among the best k of the
    sweep; < 0 keeps all."""
    max_history_events: int = 8000
    """Continue as new (carrying the state) once the history reaches this length."""
    state: SweepState | None = None
    max_trials: int = 0
    """The most trials `extend` may plan (sweeps started before the archive existed); 0: not checked."""
    archive_batch: int = 0
    """Move final trials (all but the best few) and the decisions made so far out of the state into the
    sweep's archive once this many trials are final (and at every continue-as-new), so the state stays
    bounded however many trials run. 0: never (every trial stays in the state)."""
    pbt: PbtSpec | None = None
    """`kind` "pbt": the population-based training's keys (`workflows.schedulers.pbt`)."""
    budget: BudgetSpec = field(default_factory=BudgetSpec)
    """The whole sweep's limits (`workflows.budget`); all 0: unlimited."""
    enqueue: list[dict[str, Any]] = field(default_factory=list)
    """`enqueue:` configs trials 0, 1, .. evaluate first (search-space keys to values; `runner.enqueue_config`)."""
    warm_start: WarmStart | None = None
    """`warm_start.from`: earlier sweeps' trials the sampler learns from and whose checkpoints may be reused."""
    models: dict[str, ModelSpec] = field(default_factory=dict)
    """The `model` search parameter's choices, each option's resolved ModelSpec (`runner.model_choices`);
    empty when the sweep searches no model. A trial's `model` swaps its ModelSpec in (`apply_params`)."""
    objectives: list[ObjectiveSpec] = field(default_factory=list)
    """Two or more: a multi-objective sweep, ranked by `workflows.pareto` over each trial's `rung_metrics`
    (`direction` and `base.trainer.monitor` then only pick each training's best checkpoint). Empty: the
    one objective `base.trainer.monitor`, `direction`-wise."""
    constraints: list[ConstraintSpec] = field(default_factory=list)
    """Outcome constraints (`workflows.objectives.violation`), single- or multi-objective."""
    probe_trials: int = 0
    """`ladder.probe_trials`: this many first trials train to the top rung unpruned, and the ladder starts at
    the first rung that ranks them as the top does (`workflows.schedulers.rung_probe`); 0: no probe."""
    probe_agreement: float = PROBE_AGREEMENT
    """`ladder.probe_agreement`: the Spearman correlation with the top a rung's ranking needs."""


@dataclass
class ExtendRequest:
    """More trials and/or higher rungs (in the ladder's unit, above the current top rung)."""

    trials: int = 0
    rungs: list[float] = field(default_factory=list)


@dataclass
class RungRow:
    bracket: int
    rung: int
    budget_steps: int
    reported: int
    promoted: int
    decided: bool
    schedules: list[str] = field(default_factory=list)
    """The LR schedules its results were trained under (`workflows.accounting.schedule_id`): more than one
    after `extend --rungs`, when its rankings compare results not trained under one schedule."""


@dataclass
class LadderSweepResult:
    trials: list[TrialState]
    decisions: list[Decision]
    best_trial: int
    total_steps: int
    rungs: list[RungRow] = field(default_factory=list)
    runs: int = 1
    archive: ArchiveIndex = field(default_factory=ArchiveIndex)
    """Trials and decisions that left the state: `trials` and `decisions` above are the rest (the runner
    merges both with `activities.archive.read_archive`)."""
    best_test: EvalResult | None = None
    """The best trial's best checkpoint scored on the test split (`workflows.sweep_metrics`)."""
    best_test_note: str = ""
    """Which checkpoint `best_test` scored, or why there is none."""
    stopped: bool = False
    """The user stopped the sweep (`train-tune stop`): it ended before its plan did."""
    stopped_by_user: list[int] = field(default_factory=list)
    """Trials the user stopped (`stop --trial`), archived ones included (their records may predate it)."""
    budget: BudgetSpec = field(default_factory=BudgetSpec)
    """The sweep's limits; `budget_used.spent` names the one that stopped it (then `stopped` is true too)."""
    budget_used: BudgetUsed = field(default_factory=BudgetUsed)
    snapshot_id: str = ""
    """The dataset snapshot its trials trained on: a later sweep's `warm_start` reuses a checkpoint only for
    the same data (empty in results recorded before it existed: no reuse from them)."""

