"""LadderSweepWorkflow: successive halving (synchronous `sha`, asynchronous `asha`, several `hyperband`
brackets, or `none`) over Optuna proposals. Each trial is a sequence of `train` segments, one per rung,
each resuming from the trial's own checkpoint.

Every decision is workflow state built only from activity results (the `suggest` activity proposes
parameters; `train` segments report rung metrics) and from messages (signals, the `extend` update), all
recorded in the history, so replaying it reproduces the sweep exactly. The trial table, the rung table,
the leaderboard and the decision log are queryable. Long sweeps continue as new, carrying their state,
before their history grows past `max_history_events`.
"""

import asyncio
import copy
import dataclasses
import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.archive import archive_sweep_records, load_archived_trials
    from activities.prune import prune_checkpoints
    from activities.suggest import suggest
    from activities.train import train
    from workflows import accounting, ordered
    from workflows.coordinator import failure_message
    from workflows.ladder import (
        asha_promotable,
        bracket_templates,
        budget_to_steps,
        deal_plan,
        sha_promotions,
        top_k,
    )
    from workflows.messages import (
        DatasetSnapshot,
        EvalResult,
        FinishedTrial,
        PruneRequest,
        Suggestion,
        SuggestRequest,
        TrainProgress,
        TrainRequest,
        TrainResult,
    )
    from workflows.sampler_history import LEARNS_FROM_HISTORY
    from workflows.search_attributes import BEST_METRIC
    from workflows.specs import ParamSpec, SamplerSpec
    from workflows.sweep_metrics import record_rung, with_best_test
    from workflows.sweep_records import ArchiveIndex, ArchiveRequest, Decision, LoadRequest, TrialState
    from workflows.train_eval import CONFIG_ERROR, TrainEvalInput, make_snapshot, training_retry

SEARCHABLE_SECTIONS = ("model", "optim", "trainer")
"""Config sections a search parameter may target (dataset keys would change the shared snapshot)."""

KINDS = ("sha", "asha", "hyperband", "none")
LIVE_STATES = ("pending", "running", "promoted")
"""A live trial will train again; `waiting` ones wait for their rung's decision; the rest are final."""
FINAL_STATES = ("stopped", "completed", "failed")
HELD_LEADERS = 3
"""The best max(HELD_LEADERS, keep_checkpoints) trials stay in the state (never archived): the result's best
trial, the checkpoints pruning keeps, and the completed trials an `extend` with rungs re-opens."""
DECISIONS_PER_TRIAL = 4
"""An archive part is due when archive_batch trials, or DECISIONS_PER_TRIAL x archive_batch decisions, wait."""
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
    frontier: list[int] = field(default_factory=list)  # per rung (deterministic asha): `workflows.ordered`
    promoted: list[list[int]] = field(default_factory=list)  # per rung, promoted not yet applied: `ordered.queue`
    schedules: list[list[str]] = field(default_factory=list)  # per rung, its results' LR schedules: `accounting`


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
    ordered: bool | None = None  # decisions independent of timing: set once (`workflows.ordered.ordered_mode`)
    by_promotion: bool | None = None  # ordered asha applies rungs >= 1 in promotion order: set once, as `ordered`
    stopped_by_user: list[int] = field(default_factory=list)  # trials the user stopped (`stop --trial`)


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


def apply_params(base: TrainEvalInput, params: dict[str, Any]) -> TrainEvalInput:
    """A copy of `base` with each `section.field` parameter set (pure; no config machinery)."""
    run = copy.deepcopy(base)
    for key, value in params.items():
        section, _, name = key.partition(".")
        if section not in SEARCHABLE_SECTIONS or not hasattr(getattr(run, section), name):
            raise ValueError(f"search parameter '{key}' must name a field of {', '.join(SEARCHABLE_SECTIONS)}")
        setattr(getattr(run, section), name, value)
    return run


def leaderboard_order(trials: list[TrialState], direction: str) -> list[int]:
    """Trials with a result, best first: the higher the rung step reached the better, then the metric at
    it (NaN last), then the trial number."""
    sign = -1.0 if direction == "maximize" else 1.0
    scored = [t for t in trials if t.metrics and t.state != "failed"]

    def key(t: TrialState):
        value = t.metrics[-1]
        return (-t.rung_steps[-1], value != value, sign * (value if value == value else 0.0), t.number)

    return [t.number for t in sorted(scored, key=key)]


@workflow.defn
class LadderSweepWorkflow:
    @workflow.init
    def __init__(self, input: LadderSweepInput) -> None:
        self._input = input
        self._s = input.state or SweepState()  # decoded afresh for this run: no copy needed
        self._trials: dict[int, TrialState] = {t.number: t for t in self._s.trials}
        self._running: dict[int, workflow.ActivityHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        self._wake = False
        self._done = False
        self._crash: BaseException | None = None
        self._slots: dict[int, dict[int, int]] = {}
        """Per bracket, each parked trial's index in its `Parked` lists (rebuilt when they change)."""
        self._stopped_parked: dict[int, set[int]] = {}
        """Parked trials `_settle` stopped, per bracket: they leave `Parked` together when it ends."""

    # ---- the loop -------------------------------------------------------------------------------
    @workflow.run
    async def run(self, input: LadderSweepInput) -> LadderSweepResult:
        s, base = self._s, input.base
        ordered.ordered_mode(input, s)  # fixes s.ordered
        if s.snapshot is None:
            s.snapshot = await make_snapshot(base.dataset, base.model.tokenizer, base.run_root, base.queues)
        if not s.brackets:
            s.steps_per_epoch = -(-s.snapshot.split_sizes["train"] // base.trainer.batch_size)
            s.brackets = [BracketState(rungs=self._steps(rungs), size=size) for rungs, size in deal_plan(
                bracket_templates(input.kind, input.rungs, input.eta, input.n_trials), input.n_trials)]
        while True:
            self._wake = False
            self._settle(input)
            await self._prune(input)
            await self._archive(input, force=False)
            handoff = self._handoff_due(input)
            if not handoff and not s.paused and not s.stopping:
                await self._load_parked(input)
                self._start_jobs(input)
            if not self._tasks:
                if handoff:
                    await self._archive(input, force=True)  # the next run starts with the smallest state
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    s.trials = [self._trials[n] for n in sorted(self._trials)]
                    s.runs += 1
                    workflow.continue_as_new(dataclasses.replace(input, state=s))
                if s.stopping or (self._next_job(input) is None and not s.paused):  # paused: stays open (extendable)
                    if not (self._wake and workflow.patched("settle-before-ending")):  # woken: a segment ended during
                        break  # the archive or prune above; its result is decided on before the sweep ends
            await workflow.wait_condition(lambda: self._wake)
            if self._crash is not None:
                raise self._crash  # a bug in this workflow: fail the workflow task so Temporal retries it
        self._finish()
        self._done = True
        await self._prune(input)
        await workflow.wait_condition(workflow.all_handlers_finished)
        mixing = accounting.leaderboard_mixing(list(self._trials.values()),
                                               leaderboard_order(list(self._trials.values()), input.direction))
        if mixing is not None and workflow.patched(accounting.PATCH):
            s.decisions.append(mixing)
        await self._archive(input, force=False)
        order = leaderboard_order(list(self._trials.values()), input.direction)
        result = LadderSweepResult(
            trials=self.trials(), decisions=list(s.decisions), best_trial=order[0] if order else -1,
            total_steps=s.archived_steps + sum(t.steps_trained for t in self._trials.values()),
            rungs=self.rung_table(), runs=s.runs, archive=s.archive, stopped=s.stopping,
            stopped_by_user=list(s.stopped_by_user),
        )
        return await with_best_test(result, input.base, s.snapshot, apply_params)

    def _steps(self, budgets: list[float]) -> list[int]:
        steps = [budget_to_steps(b, self._input.unit, self._s.steps_per_epoch) for b in budgets]
        if any(b <= a for a, b in zip(steps, steps[1:])):
            raise ApplicationError(
                f"ladder rungs {budgets} ({self._input.unit}) give training steps {steps}, which are not strictly "
                f"increasing at {self._s.steps_per_epoch} steps per epoch; space the rungs further apart",
                type=CONFIG_ERROR, non_retryable=True,
            )
        return steps

    def _handoff_due(self, input: LadderSweepInput) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= input.max_history_events

    # ---- decisions --------------------------------------------------------------------------------
    def _members(self, bracket: int) -> list[TrialState]:
        return [self._trials[n] for n in self._s.brackets[bracket].proposed]

    def _closed(self, bracket: int, rung: int) -> bool:
        """No trial of the bracket can still report at `rung`: all are proposed, none trains towards it."""
        b = self._s.brackets[bracket]
        return len(b.proposed) + b.archived_trials >= b.size and not any(
            t.state in LIVE_STATES and t.target <= rung for t in self._members(bracket)) and not any(
            0 <= target <= rung for target in b.parked.targets)

    def _rung_results(self, bracket: int, rung: int, members: list[TrialState]) -> tuple[dict[int, float], int]:
        """The results at `rung` of the bracket's trials in the state and the best archived ones, and how many
        trials reported there in all."""
        results = {t.number: t.metrics[rung] for t in members if t.rung >= rung and len(t.metrics) > rung}
        archived, parked = self._archived(bracket, rung), self._s.brackets[bracket].parked
        here = [i for i, r in enumerate(parked.rungs) if r == rung]
        reported = len(results) + archived.count + len(here)
        results.update(zip(archived.numbers, archived.values))
        results.update((parked.numbers[i], parked.values[i]) for i in here)
        return results, reported

    def _archived(self, bracket: int, rung: int) -> RungArchive:
        archived = self._s.brackets[bracket].archived
        return archived[rung] if rung < len(archived) else RungArchive()

    def _settle(self, input: LadderSweepInput) -> None:
        """Make every promotion decision the results so far allow (pure state change, no I/O)."""
        self._decide_rungs(input)
        for bracket, numbers in self._stopped_parked.items():
            self._drop_parked(bracket, numbers)
        self._stopped_parked = {}

    def _decide_rungs(self, input: LadderSweepInput) -> None:
        for index, b in enumerate(self._s.brackets):
            members = self._members(index)
            for rung in range(len(b.rungs) - 1):
                parked = b.parked
                waiting = sorted([*(t.number for t in members if t.state == "waiting" and t.rung == rung),
                                  *(n for n, r, target in zip(parked.numbers, parked.rungs, parked.targets)
                                    if r == rung and target < 0)])
                if not waiting:
                    continue
                results, reported = self._rung_results(index, rung, members)
                closed = self._closed(index, rung)
                if input.kind == "asha" and self._s.ordered:
                    ordered.release_in_order(self, index, rung, waiting, closed, input.eta, input.direction)
                elif input.kind == "asha":
                    gone = {t.number for t in members if t.target > rung or t.rung > rung}
                    for n in asha_promotable(results, gone, input.eta, input.direction, reported):
                        if n in waiting:
                            self._promote(n, rung, f"in the top 1/{input.eta} of {reported} reported", index)
                    if closed:
                        for n in waiting:
                            if self._waiting(n, index):
                                self._stop(n, rung, f"not in the top 1/{input.eta} of {reported} at the "
                                                    f"rung's close", index)
                elif closed and rung not in b.decided:
                    b.decided.append(rung)
                    keep = (top_k(results, len(results), input.direction) if input.kind == "none"
                            else sha_promotions(results, input.eta, input.direction, reported))
                    for n in waiting:
                        why = f"{input.direction} {results[n]:.4f}; top {len(keep)} of {reported} go on to " \
                              f"{b.rungs[rung + 1]} steps"
                        self._promote(n, rung, why, index) if n in keep else self._stop(n, rung, why, index)

    def _slot(self, bracket: int, number: int) -> int:
        if bracket not in self._slots:
            self._slots[bracket] = {n: i for i, n in enumerate(self._s.brackets[bracket].parked.numbers)}
        return self._slots[bracket][number]

    def _waiting(self, number: int, bracket: int) -> bool:
        trial = self._trials.get(number)
        if trial is not None:
            return trial.state == "waiting"
        return (number not in self._stopped_parked.get(bracket, ())
                and self._s.brackets[bracket].parked.targets[self._slot(bracket, number)] < 0)

    def _promote(self, number: int, rung: int, why: str, bracket: int) -> None:
        trial = self._trials.get(number)
        if trial is not None:
            trial.state, trial.target = "promoted", rung + 1
        else:  # parked: loaded back when a slot is free for it (`_load_parked`)
            self._s.brackets[bracket].parked.targets[self._slot(bracket, number)] = rung + 1
        self._decide("promote", number, rung, why)

    def _stop(self, number: int, rung: int, why: str, bracket: int) -> None:
        trial = self._trials.get(number)
        if trial is not None:
            trial.state, trial.reason, trial.demoted = "stopped", why, True
        else:  # parked: its archived record stays "waiting"; the runner applies this decision to it
            self._stopped_parked.setdefault(bracket, set()).add(number)
            if self._input.keep_checkpoints >= 0:
                self._s.parked_doomed.append([number, rung])
        self._decide("stop", number, rung, why)

    def _drop_parked(self, bracket: int, numbers: set[int]) -> None:
        """Parked trials become final (stopped): their results count at their rungs like archived trials'."""
        b = self._s.brackets[bracket]
        by_rung: dict[int, list[tuple[int, float]]] = {}
        for n, rung, value in zip(b.parked.numbers, b.parked.rungs, b.parked.values):
            if n in numbers:
                by_rung.setdefault(rung, []).append((n, value))
        b.parked.drop(numbers)
        self._slots.pop(bracket, None)
        for rung, results in sorted(by_rung.items()):
            self._count_results(b, rung, results)

    def _finish(self) -> None:
        """The sweep ends: trials that would have gone on stop where they are, and say why."""
        for t in self._trials.values():
            if t.state not in FINAL_STATES:
                t.state, t.reason = "stopped", "the sweep was stopped" if self._s.stopping else "the sweep ended"

    async def _prune(self, input: LadderSweepInput) -> None:
        """Delete the checkpoints of demoted trials (final: they cannot be promoted any more) that are not
        among the best k. Trials stopped by a signal, failed ones and the sweep's survivors keep theirs."""
        if input.keep_checkpoints < 0:
            return
        keep = set(leaderboard_order(list(self._trials.values()), input.direction)[:input.keep_checkpoints])
        doomed = [t for t in self._trials.values() if t.state == "stopped" and t.demoted and t.checkpoint_dir
                  and not t.checkpoints_pruned and t.number not in keep and t.number not in self._running]
        parked, self._s.parked_doomed = self._s.parked_doomed, []  # never among the best (see `_archive`)
        if not doomed and not parked:
            return
        folders = {t.number: t.checkpoint_dir for t in doomed} | {n: self._trial_folder(n) for n, _ in parked}
        rungs = {t.number: t.rung for t in doomed} | {n: rung for n, rung in parked}
        for t in doomed:
            t.checkpoints_pruned = True
        for n in sorted(folders):
            self._decide("prune", n, rungs[n], "checkpoints deleted: final and not among the best "
                                               f"{input.keep_checkpoints}")
        doomed_folders = [folders[n] for n in sorted(folders)]
        batch = len(doomed_folders)
        if batch > PRUNE_BATCH and workflow.patched("prune-in-batches"):  # sweeps started before batching replay
            batch = PRUNE_BATCH
        for first in range(0, len(doomed_folders), batch):  # one small payload per call
            await workflow.execute_activity(
                prune_checkpoints, PruneRequest(root=self._checkpoint_root(), folders=doomed_folders[first:first + batch]),
                task_queue=input.base.queues.orchestration, start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=[CONFIG_ERROR]),
            )

    # ---- jobs -----------------------------------------------------------------------------------
    def _next_job(self, input: LadderSweepInput) -> tuple[int, int] | None:
        """(trial, bracket): a promoted trial first (highest rung, lowest number), else a new trial (-1)
        for the first bracket with room."""
        promoted = self._promoted_queue()
        if promoted:
            _, number, bracket = promoted[0]
            return number, bracket
        for index, b in enumerate(self._s.brackets):
            if len(b.proposed) + b.archived_trials < b.size:
                return -1, index
        return None

    def _promoted_queue(self) -> list[tuple[int, int, int]]:
        """(-target, number, bracket) of the promoted trials not training, parked ones included, in the
        order they start: the highest target first, then the lowest number."""
        queue = [(-t.target, t.number, t.bracket) for t in self._trials.values()
                 if t.state == "promoted" and t.number not in self._running]
        for index, b in enumerate(self._s.brackets):
            queue.extend((-target, n, index) for n, target in zip(b.parked.numbers, b.parked.targets) if target >= 0)
        return sorted(queue)

    async def _load_parked(self, input: LadderSweepInput) -> None:
        """Load back the parked trials the free slots will start next (promoted ones, in start order)."""
        free = max(1, input.parallelism) - len(self._tasks)
        wanted = [n for _, n, _ in self._promoted_queue()[:max(0, free)] if n not in self._trials]
        if not wanted or self._s.paused or self._s.stopping:
            return
        where = {n: (index, b.parked.parts[self._slot(index, n)])
                 for index, b in enumerate(self._s.brackets) for n in wanted if n in b.parked.numbers}
        loaded: list[TrialState] = await workflow.execute_activity(
            load_archived_trials,
            LoadRequest(folder=self._s.archive.folder, run_root=input.base.run_root, numbers=wanted,
                        parts=[where[n][1] for n in wanted]),
            task_queue=input.base.queues.orchestration, start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(non_retryable_error_types=[CONFIG_ERROR]),
        )
        for trial in loaded:
            index = where[trial.number][0]
            b = self._s.brackets[index]
            if trial.number not in b.parked.numbers:
                continue  # stopped (stop_trial) while it loaded
            trial.state, trial.target = "promoted", b.parked.targets[self._slot(index, trial.number)]
            b.parked.drop({trial.number})
            self._slots.pop(index, None)
            self._unpark(b, trial)

    def _start_jobs(self, input: LadderSweepInput) -> None:
        while len(self._tasks) < max(1, input.parallelism):
            job = self._next_job(input)
            if job is None:
                return
            number, bracket = job
            if 0 <= number and number not in self._trials:  # parked: `_load_parked` brings it back first
                self._wake = True
                return
            if number < 0:
                number = self._next_number()
                self._s.next_number = number + 1
                self._trials[number] = TrialState(number=number, params={}, bracket=bracket, target=0)
                self._s.brackets[bracket].proposed.append(number)
            trial = self._trials[number]
            trial.state = "running"
            task = asyncio.create_task(self._segment(input, trial))
            self._tasks.add(task)
            task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._crash = task.exception()
        self._wake = True

    async def _segment(self, input: LadderSweepInput, trial: TrialState) -> None:
        if not trial.params:
            try:
                await self._propose(input, trial)
            except ActivityError as error:
                trial.state, trial.error = "failed", failure_message(error)
                self._decide("fail", trial.number, -1, trial.error)
                return
        if trial.number in self._s.stop_requested:
            accounting.stop_by_user(trial, "stop_trial signal")
            return
        bracket = self._s.brackets[trial.bracket]
        keeps = workflow.patched(accounting.PATCH)  # a user stop keeps what the segment trained
        steps = bracket.rungs[trial.target]
        run = apply_params(input.base, trial.params)
        run.trainer.max_steps = bracket.rungs[-1]  # the LR schedule spans the bracket's top rung
        trial.checkpoint_dir = self._trial_folder(trial.number)
        assert self._s.snapshot is not None, "trials start after the snapshot is made"
        try:
            segment = workflow.start_activity(
                train,
                TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=self._s.snapshot,
                             seed=run.seed, checkpoint_dir=trial.checkpoint_dir, stop_at_step=steps, run_root=run.run_root,
                             signal_progress=False, logger=run.logger, result_on_cancel=keeps),
                task_queue=run.queues.training,
                start_to_close_timeout=timedelta(days=7),
                heartbeat_timeout=timedelta(seconds=run.trainer.heartbeat_timeout_s),
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                retry_policy=training_retry(run.trainer),
            )
            self._running[trial.number] = segment
            result: TrainResult = await segment
        except ActivityError as error:
            if isinstance(error.cause, CancelledError) and trial.number in self._s.stop_requested:
                accounting.stop_by_user(trial, "stop_trial signal (checkpoint saved)")
                return
            trial.state, trial.error = "failed", failure_message(error)
            self._decide("fail", trial.number, trial.target, trial.error)
            return
        finally:
            self._running.pop(trial.number, None)
        if result.skipped_checkpoints:
            self._decide("fallback", trial.number, trial.target,
                         f"resumed from step {result.resumed_from_step}, skipping " + "; ".join(result.skipped_checkpoints))
        if keeps and accounting.stopped_short(result, steps):
            accounting.keep_partial(trial, result)
            return
        score = result.final_score if result.final_score is not None else result.best_score
        trial.rung = trial.target
        trial.metrics.append(score if score is not None else float("nan"))
        if input.base.upsert_best_metric and score is not None and math.isfinite(score):
            self._upsert_best(input.direction)
        trial.rung_steps.append(result.global_step)
        trial.checkpoint = result.last_checkpoint
        record_rung(trial, result)
        # progress of the trial (work lost to crashes and redone is not counted twice)
        trial.steps_trained += result.global_step - (trial.rung_steps[-2] if len(trial.rung_steps) > 1 else 0)
        trial.resumed_from_steps.append(result.resumed_from_step)
        mixed = accounting.note_schedule(bracket, trial, run.trainer.max_steps, steps) if keeps else None
        top = trial.rung == len(bracket.rungs) - 1
        trial.state = "completed" if top else "waiting"
        trial.reason = "reached the top rung" if top else ""
        self._decide("rung_result", trial.number, trial.rung,
                     f"{result.monitor} {trial.metrics[-1]:.4f} at step {result.global_step} "
                     f"(resumed from {result.resumed_from_step})")
        if keeps:
            accounting.after_result(self._s, trial, mixed)

    def _next_number(self) -> int:
        return max(self._s.next_number, max(self._trials, default=-1) + 1)

    async def _propose(self, input: LadderSweepInput, trial: TrialState) -> None:
        if self._s.ordered and input.sampler.name in LEARNS_FROM_HISTORY:  # trials below n - lag
            await workflow.wait_condition(lambda: ordered.proposal_ready(self._trials, trial.number, input.sampler.lag))
        history = ordered.proposal_history(self, trial.number)
        suggestion: Suggestion = await workflow.execute_activity(
            suggest,
            SuggestRequest(space=input.space, sampler=input.sampler, direction=input.direction, trials=history,
                           number=trial.number),
            task_queue=input.base.queues.orchestration,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=[CONFIG_ERROR]),
        )
        trial.params = dict(suggestion.params)
        self._decide("propose", trial.number, -1, " ".join(f"{k}={v}" for k, v in sorted(trial.params.items())))

    def _upsert_best(self, direction: str) -> None:
        """TrainTuneBestMetric: the best rung score so far (any rung, any trial), `direction`-wise."""
        scores = [m for t in self._trials.values() for m in t.metrics if math.isfinite(m)]
        if self._s.archived_best is not None:
            scores.append(self._s.archived_best)
        best = max(scores) if direction == "maximize" else min(scores)
        workflow.upsert_search_attributes([BEST_METRIC.value_set(best)])

    # ---- the archive ------------------------------------------------------------------------------
    def _leaving(self, input: LadderSweepInput) -> list[TrialState]:
        """Trials whose records can leave the state: final ones (not running) whose checkpoints need no
        more pruning, and waiting ones (parked: only a compact entry stays, see `Parked`), except the best
        max(HELD_LEADERS, keep_checkpoints), which stay. Nothing the sweep decides later reads these records:
        their results count through `RungArchive` and `Parked`, and a parked trial that is promoted is
        loaded back before it trains."""
        held = set(leaderboard_order(list(self._trials.values()), input.direction)[:max(HELD_LEADERS,
                                                                                         input.keep_checkpoints)])
        return [t for n, t in sorted(self._trials.items()) if n not in held and n not in self._running and (
            t.state == "waiting" or t.state in FINAL_STATES
            and (t.checkpoints_pruned or not t.demoted or input.keep_checkpoints < 0)) and (
            input.kind != "asha" or not self._s.ordered or ordered.may_leave(t, self._s.brackets[t.bracket], self._s))]

    async def _archive(self, input: LadderSweepInput, force: bool) -> None:
        """Write the trials that can leave and the decisions so far as the archive's next part, then drop
        them from the state: when `archive_batch` trials (or DECISIONS_PER_TRIAL times as many decisions)
        wait, or when `force`d (before continuing as new)."""
        s = self._s
        if input.archive_batch <= 0:
            return
        most = DECISIONS_PER_TRIAL * input.archive_batch
        while True:  # a part holds at most archive_batch trials and `most` decisions: payloads stay small
            leaving = self._leaving(input)
            if not (leaving or s.decisions) or not (force or len(leaving) >= input.archive_batch
                                                    or len(s.decisions) >= most):
                return
            await self._write_part(input, leaving[:input.archive_batch], s.decisions[:most])

    async def _write_part(self, input: LadderSweepInput, leaving: list[TrialState], decisions: list[Decision]) -> None:
        s = self._s
        s.archive.folder = f"{input.base.run_root}/sweeps/{workflow.info().workflow_id}"
        s.archive.parts += 1
        part = s.archive.parts
        await workflow.execute_activity(
            archive_sweep_records,
            ArchiveRequest(folder=s.archive.folder, index=part, run_root=input.base.run_root, trials=leaving,
                           decisions=decisions),
            task_queue=input.base.queues.orchestration, start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(non_retryable_error_types=[CONFIG_ERROR]),
        )
        del s.decisions[:len(decisions)]  # the rest, and those made while the part was written, go next
        s.archive.trials += len(leaving)
        gone = []
        for t in leaving:  # a signal or `extend` meanwhile may have changed some: those stay
            if t.state in FINAL_STATES or t.state == "waiting":
                self._retire(t, input, part)
                gone.append(t)
        if input.sampler.name in LEARNS_FROM_HISTORY:
            s.sampler_memory = ordered.remember(self, [*s.sampler_memory, *(ordered.learned(self, t) for t in gone
                                                                             if t.metrics)])
        for index, b in enumerate(s.brackets):
            if len(b.proposed) + b.archived_trials >= b.size and not b.parked.numbers and not any(
                    t.state in LIVE_STATES or t.state == "waiting" for t in self._members(index)):
                for archived in b.archived:  # the bracket is done: no decision will rank its trials again
                    archived.numbers, archived.values = [], []

    def _retire(self, trial: TrialState, input: LadderSweepInput, part: int) -> None:
        """Drop an archived trial from the state, keeping what later decisions need: its rung results (the
        one it waits at, for a waiting trial, in its bracket's `Parked`; the others in `RungArchive`), its
        steps and best score. It leaves `proposed` but counts towards the bracket's size."""
        s, b = self._s, self._s.brackets[trial.bracket]
        b.proposed.remove(trial.number)
        b.archived_trials += 1
        parked = trial.state == "waiting"
        for rung, value in enumerate(trial.metrics[:-1] if parked else trial.metrics):
            self._count_results(b, rung, [(trial.number, value)])
        if parked:
            self._slots.pop(trial.bracket, None)
            b.parked.numbers.append(trial.number)
            b.parked.rungs.append(trial.rung)
            b.parked.values.append(trial.metrics[-1])
            b.parked.parts.append(part)
            b.parked.targets.append(-1)
        finite = [m for m in trial.metrics if math.isfinite(m)]
        if finite:
            pick = max if input.direction == "maximize" else min
            s.archived_best = pick([*finite, *([] if s.archived_best is None else [s.archived_best])])
        s.archived_steps += trial.steps_trained
        s.next_number = self._next_number()
        if trial.number in s.stop_requested:
            s.stop_requested.remove(trial.number)
        del self._trials[trial.number]

    def _count_results(self, b: BracketState, rung: int, results: list[tuple[int, float]]) -> None:
        """More archived results (number, value) at `rung`; the best max(1, size // eta) are kept (no
        promotion reaches further; none for a ladder without promotions' ranking)."""
        while len(b.archived) <= rung:
            b.archived.append(RungArchive())
        archived = b.archived[rung]
        archived.count += len(results)
        reach = 0 if self._input.kind == "none" else max(1, b.size // self._input.eta)
        ranked = dict(zip(archived.numbers, archived.values))
        ranked.update(results)
        archived.numbers = top_k(ranked, reach, self._input.direction)
        archived.values = [ranked[n] for n in archived.numbers]

    def _unpark(self, b: BracketState, trial: TrialState) -> None:
        """A parked trial loaded back to train: it is a member again, its lower rungs' results no longer
        archived ones, and the sampler sees it in the state instead of in its memory."""
        s = self._s
        for rung in range(trial.rung):
            archived = b.archived[rung]
            archived.count -= 1
            if trial.number in archived.numbers:
                i = archived.numbers.index(trial.number)
                del archived.numbers[i], archived.values[i]
        b.archived_trials -= 1
        b.proposed.append(trial.number)
        s.archived_steps -= trial.steps_trained
        s.sampler_memory = [f for f in s.sampler_memory if f.number != trial.number]
        self._trials[trial.number] = trial
    def _checkpoint_root(self) -> str:
        return f"{self._input.base.run_root}/checkpoints/{workflow.info().workflow_id}"

    def _trial_folder(self, number: int) -> str:
        return f"{self._checkpoint_root()}/trial{number}"

    def _decide(self, kind: str, trial: int, rung: int, detail: str) -> None:
        self._s.decisions.append(Decision(kind=kind, trial=trial, rung=rung, detail=detail))

    # ---- messages ---------------------------------------------------------------------------------
    @workflow.signal
    def report_progress(self, progress: TrainProgress) -> None:
        """Accepted for compatibility; sweep segments do not signal (status reads their heartbeats)."""

    @workflow.signal
    def pause(self) -> None:
        """No new segment starts; running segments finish (and checkpoint) as usual."""
        self._s.paused = True
        self._decide("pause", -1, -1, "pause signal")
        self._wake = True

    @workflow.signal
    def resume(self) -> None:
        self._s.paused = False
        self._decide("resume", -1, -1, "resume signal")
        self._wake = True

    @workflow.signal
    def stop(self) -> None:
        """Segments already running finish (and checkpoint); nothing starts afterwards; the sweep reports
        the best trial at the highest rung reached."""
        self._s.stopping = True
        self._decide("stop_sweep", -1, -1, "stop signal")
        self._wake = True

    @workflow.signal
    def stop_trial(self, number: int) -> None:
        """Stop one trial: a running segment is cancelled (it checkpoints first); a waiting one never starts
        again. Unknown or finished trials are ignored (the CLI checks the number first)."""
        trial = self._trials.get(number)
        parked = next((index for index, b in enumerate(self._s.brackets) if number in b.parked.numbers), None)
        if parked is not None:  # waiting or promoted, its record archived: it never starts again
            b = self._s.brackets[parked]
            self._decide("stop", number, b.parked.rungs[self._slot(parked, number)], "stop_trial signal")
            self._drop_parked(parked, {number})
            self._s.stopped_by_user.append(number)
            self._wake = True
            return
        if trial is None or trial.state in FINAL_STATES:
            return
        self._s.stop_requested.append(number)
        self._s.stopped_by_user.append(number)
        self._decide("stop", number, trial.rung, "stop_trial signal")
        if number in self._running:
            self._running[number].cancel()
        elif trial.state in ("waiting", "promoted"):  # not training now: it never starts again
            accounting.stop_by_user(trial, "stop_trial signal")
        self._wake = True

    @workflow.update
    def extend(self, request: ExtendRequest) -> str:
        """Add trials (new brackets for sha/hyperband/none; the one bracket grows for asha) and/or rungs
        above the current top (every bracket grows; trials that completed the old top become eligible
        for promotion and resume from their top-rung checkpoint)."""
        s, input = self._s, self._input
        added: list[str] = []
        if request.trials:
            if input.kind == "asha":
                s.brackets[0].size += request.trials
            else:
                templates = bracket_templates(input.kind, input.rungs, input.eta, request.trials)
                for rungs, size in deal_plan(templates, request.trials):
                    s.brackets.append(BracketState(rungs=self._steps(rungs) + s.extra_rungs, size=size))
            added.append(f"{request.trials} trials")
        if request.rungs:
            steps = self._steps([*request.rungs])
            s.extra_rungs.extend(steps)
            archived = 0
            for index, b in enumerate(s.brackets):
                old_top = len(b.rungs) - 1
                archived += self._archived(index, old_top).count
                b.rungs.extend(steps)
                for t in (self._trials[n] for n in b.proposed):
                    if t.state == "completed" and t.rung == old_top:
                        t.state, t.reason = "waiting", ""
                ordered.reopen(self, index, old_top)
            added.append(f"rungs {list(request.rungs)} {input.unit} ({steps} steps)")
            if archived:
                added.append(f"{archived} archived trials that completed the old top stay final (their results "
                             f"still count in the ranking)")
        self._decide("extend", -1, -1, "extend: " + ", ".join(added))
        self._wake = True
        return f"extended by {', '.join(added)}"

    @extend.validator
    def _validate_extend(self, request: ExtendRequest) -> None:
        if self._done or self._s.stopping:
            raise ValueError("the sweep is stopping or has ended; start a new sweep instead")
        if request.trials < 0:
            raise ValueError(f"extend trials is {request.trials}, but must be >= 0")
        total = self._next_number() + sum(b.size - len(b.proposed) - b.archived_trials for b in self._s.brackets)
        if self._input.max_trials and total + request.trials > self._input.max_trials:
            raise ValueError(f"extend trials is {request.trials}, but this sweep's state fits at most "
                             f"{self._input.max_trials} trials in one Temporal payload ({total} planned already); "
                             f"start a second sweep instead")
        if not request.trials and not request.rungs:
            raise ValueError("extend needs trials > 0 or at least one rung above the current top")
        if request.rungs:
            if not self._s.brackets:
                raise ValueError("the sweep has not planned its rungs yet; try again in a moment")
            current = max(b.rungs[-1] for b in self._s.brackets)
            steps = [budget_to_steps(r, self._input.unit, self._s.steps_per_epoch) for r in request.rungs]
            if any(b <= a for a, b in zip(steps, steps[1:])) or steps[0] <= current:
                raise ValueError(f"extend rungs {list(request.rungs)} ({self._input.unit}) give steps {steps}, "
                                 f"but must be strictly increasing and above the current top rung ({current} steps)")

    # ---- queries ----------------------------------------------------------------------------------
    @workflow.query
    def trials(self) -> list[TrialState]:
        return [self._trials[n] for n in sorted(self._trials)]

    @workflow.query
    def archive(self) -> ArchiveIndex:
        """Where the trials and decisions that left the state are (`activities.archive.read_archive`)."""
        return self._s.archive

    @workflow.query
    def parked(self) -> list[int]:
        """Numbers of the trials waiting (or promoted, not yet training) whose records are archived."""
        return sorted(n for b in self._s.brackets for n in b.parked.numbers)

    @workflow.query
    def decision_log(self) -> list[Decision]:
        return list(self._s.decisions)

    @workflow.query
    def leaderboard(self) -> list[TrialState]:
        return [self._trials[n] for n in leaderboard_order(list(self._trials.values()), self._input.direction)]

    @workflow.query
    def rung_table(self) -> list[RungRow]:
        rows = []
        for index, b in enumerate(self._s.brackets):
            members = self._members(index)
            for rung, steps in enumerate(b.rungs):
                parked = list(zip(b.parked.rungs, b.parked.targets))
                rows.append(RungRow(
                    bracket=index, rung=rung, budget_steps=steps,
                    reported=sum(1 for t in members if t.rung >= rung) + self._archived(index, rung).count
                    + sum(1 for r, _ in parked if r == rung),
                    promoted=sum(1 for t in members if t.rung > rung or (t.target > rung and t.state in LIVE_STATES))
                    + self._archived(index, rung + 1).count + sum(1 for r, target in parked
                                                                  if r == rung + 1 or r == rung and target > rung),
                    decided=rung in b.decided or (rung < len(b.rungs) - 1 and self._closed(index, rung)),
                    schedules=list(b.schedules[rung]) if rung < len(b.schedules) else [],
                ))
        return rows
