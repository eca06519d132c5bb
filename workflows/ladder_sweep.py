"""LadderSweepWorkflow: synchronous successive halving over Optuna proposals, each trial a sequence of
`train` segments that resume from the trial's own rung checkpoint.

Every decision is workflow state built only from activity results (the `suggest` activity proposes
parameters; `train` segments report rung metrics), so replaying the history reproduces the sweep exactly.
The trial table and the decision log are queryable.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.suggest import suggest
    from activities.train import train
    from workflows.coordinator import failure_message
    from workflows.ladder import sha_promotions, top_k
    from workflows.messages import (
        DatasetSnapshot,
        FinishedTrial,
        Suggestion,
        SuggestRequest,
        TrainProgress,
        TrainRequest,
        TrainResult,
    )
    from workflows.specs import ParamSpec, SamplerSpec
    from workflows.train_eval import CONFIG_ERROR, TrainEvalInput, make_snapshot

SEARCHABLE_SECTIONS = ("model", "optim", "trainer")
"""Config sections a search parameter may target (dataset keys would change the shared snapshot)."""


@dataclass
class LadderSweepInput:
    name: str
    base: TrainEvalInput
    space: list[ParamSpec]
    sampler: SamplerSpec
    n_trials: int
    rungs: list[int]
    eta: int = 3
    direction: str = "minimize"
    parallelism: int = 2


@dataclass
class TrialState:
    number: int
    params: dict[str, Any]
    state: str = "pending"  # pending | running | promoted | stopped | completed | failed
    rung: int = -1
    """Highest rung finished."""
    metrics: list[float] = field(default_factory=list)
    """Monitored validation metric at the end of each rung reached."""
    checkpoint: str = ""
    steps_trained: int = 0
    resumed_from_steps: list[int] = field(default_factory=list)
    error: str = ""


@dataclass
class Decision:
    kind: str  # propose | rung_result | promote | stop | fail | pause | resume | stop_sweep | sweep_stopped
    trial: int
    rung: int
    detail: str


@dataclass
class LadderSweepResult:
    trials: list[TrialState]
    decisions: list[Decision]
    best_trial: int
    total_steps: int


def apply_params(base: TrainEvalInput, params: dict[str, Any]) -> TrainEvalInput:
    """A copy of `base` with each `section.field` parameter set (pure; no config machinery)."""
    run = copy.deepcopy(base)
    for key, value in params.items():
        section, _, name = key.partition(".")
        if section not in SEARCHABLE_SECTIONS or not hasattr(getattr(run, section), name):
            raise ValueError(f"search parameter '{key}' must name a field of {', '.join(SEARCHABLE_SECTIONS)}")
        setattr(getattr(run, section), name, value)
    return run


@workflow.defn
class LadderSweepWorkflow:
    @workflow.init
    def __init__(self, input: LadderSweepInput) -> None:
        self._trials: dict[int, TrialState] = {}
        self._decisions: list[Decision] = []
        self._progress: dict[str, TrainProgress] = {}
        self._paused = False
        self._stopping = False
        self._stop_requested: set[int] = set()
        self._running: dict[int, workflow.ActivityHandle] = {}

    @workflow.run
    async def run(self, input: LadderSweepInput) -> LadderSweepResult:
        base = input.base
        snapshot = await make_snapshot(base.dataset, base.model.tokenizer, base.run_root, base.queues)
        for number in range(input.n_trials):
            await self._propose(input, number)
        slots = asyncio.Semaphore(max(1, input.parallelism))
        active = sorted(self._trials)
        for rung_index, budget in enumerate(input.rungs):
            await asyncio.gather(*(self._segment(input, snapshot, self._trials[n], rung_index, budget, slots)
                                   for n in active))
            finished = {n: self._trials[n].metrics[-1] for n in active if self._trials[n].rung == rung_index}
            if rung_index == len(input.rungs) - 1 or self._stopping:
                for n in finished:
                    self._trials[n].state = "completed"
                if self._stopping and rung_index < len(input.rungs) - 1:
                    self._decide("sweep_stopped", -1, rung_index, "stop signal: no promotion past this rung")
                break
            keep = sha_promotions(finished, input.eta, input.direction) if finished else []
            for n in sorted(finished):
                promoted = n in keep
                self._trials[n].state = "promoted" if promoted else "stopped"
                self._decide("promote" if promoted else "stop", n, rung_index,
                             f"{input.direction} {self._trials[n].metrics[-1]:.4f}; top {len(keep)} of "
                             f"{len(finished)} go on to {input.rungs[rung_index + 1]} steps")
            active = keep
        top = max((t.rung for t in self._trials.values() if t.state == "completed"), default=-1)
        done = {n: t.metrics[-1] for n, t in self._trials.items() if t.state == "completed" and t.rung == top}
        best = top_k(done, 1, input.direction)[0] if done else -1
        return LadderSweepResult(
            trials=[self._trials[n] for n in sorted(self._trials)], decisions=self._decisions, best_trial=best,
            total_steps=sum(t.steps_trained for t in self._trials.values()),
        )

    async def _propose(self, input: LadderSweepInput, number: int) -> None:
        history = [
            FinishedTrial(number=t.number, params=t.params, state="complete" if t.state == "completed" else "pruned",
                          value=t.metrics[-1], step=input.rungs[t.rung])
            for t in self._trials.values() if t.metrics
        ]
        suggestion: Suggestion = await workflow.execute_activity(
            suggest,
            SuggestRequest(space=input.space, sampler=input.sampler, direction=input.direction, trials=history,
                           number=number),
            task_queue=input.base.queues.orchestration,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=[CONFIG_ERROR]),
        )
        self._trials[number] = TrialState(number=number, params=dict(suggestion.params))
        self._decide("propose", number, -1, " ".join(f"{k}={v}" for k, v in sorted(suggestion.params.items())))

    async def _segment(self, input: LadderSweepInput, snapshot: DatasetSnapshot, trial: TrialState,
                       rung_index: int, budget: int, slots: asyncio.Semaphore) -> None:
        async with slots:
            await workflow.wait_condition(lambda: not self._paused)
            if trial.number in self._stop_requested or (self._stopping and trial.rung < 0):
                trial.state = "stopped"
                return
            if self._stopping:  # a promotion not yet started: the trial ends at the rung it finished
                trial.state = "completed"
                return
            trial.state = "running"
            run = apply_params(input.base, trial.params)
            run.trainer.max_steps = input.rungs[-1]  # the LR schedule spans the top rung's budget
            try:
                segment = workflow.start_activity(
                    train,
                    TrainRequest(
                        model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot, seed=run.seed,
                        checkpoint_dir=f"{run.run_root}/checkpoints/{workflow.info().workflow_id}/trial{trial.number}",
                        stop_at_step=budget,
                    ),
                    task_queue=run.queues.training,
                    start_to_close_timeout=timedelta(days=7),
                    heartbeat_timeout=timedelta(seconds=run.trainer.heartbeat_timeout_s),
                    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                    retry_policy=RetryPolicy(maximum_attempts=run.trainer.max_attempts,
                                             non_retryable_error_types=[CONFIG_ERROR]),
                )
                self._running[trial.number] = segment
                result: TrainResult = await segment
            except ActivityError as error:
                if isinstance(error.cause, CancelledError) and trial.number in self._stop_requested:
                    trial.state = "stopped"  # the training saved a checkpoint before it stopped
                    return
                trial.state, trial.error = "failed", failure_message(error)
                self._decide("fail", trial.number, rung_index, trial.error)
                return
            finally:
                self._running.pop(trial.number, None)
        trial.rung = rung_index
        trial.metrics.append(result.best_score if result.best_score is not None else float("nan"))
        trial.checkpoint = result.last_checkpoint
        trial.steps_trained += result.steps_this_attempt
        trial.resumed_from_steps.append(result.resumed_from_step)
        self._decide("rung_result", trial.number, rung_index,
                     f"{result.monitor} {trial.metrics[-1]:.4f} at step {result.global_step} "
                     f"(resumed from {result.resumed_from_step})")

    def _decide(self, kind: str, trial: int, rung: int, detail: str) -> None:
        self._decisions.append(Decision(kind=kind, trial=trial, rung=rung, detail=detail))

    @workflow.signal
    def report_progress(self, progress: TrainProgress) -> None:
        """Segments report here (keyed by their checkpoint folder); informative only."""
        self._progress[progress.latest_checkpoint.rsplit("/", 2)[-2] if progress.latest_checkpoint else ""] = progress

    @workflow.signal
    def pause(self) -> None:
        """No new segment starts; running segments finish (and checkpoint) as usual."""
        self._paused = True
        self._decide("pause", -1, -1, "pause signal")

    @workflow.signal
    def resume(self) -> None:
        self._paused = False
        self._decide("resume", -1, -1, "resume signal")

    @workflow.signal
    def stop(self) -> None:
        """Segments already running finish (and checkpoint); nothing starts afterwards; the sweep reports
        the best trial at the highest rung reached."""
        self._stopping = True
        self._decide("stop_sweep", -1, -1, "stop signal")

    @workflow.signal
    def stop_trial(self, number: int) -> None:
        """Stop one trial: a running segment is cancelled (it checkpoints first); a waiting one never starts.
        Unknown or finished trials are ignored (the CLI checks the number first)."""
        trial = self._trials.get(number)
        if trial is None or trial.state in ("stopped", "completed", "failed"):
            return
        self._stop_requested.add(number)
        self._decide("stop", number, trial.rung, "stop_trial signal")
        if number in self._running:
            self._running[number].cancel()

    @workflow.query
    def trials(self) -> list[TrialState]:
        return [self._trials[n] for n in sorted(self._trials)]

    @workflow.query
    def decision_log(self) -> list[Decision]:
        return list(self._decisions)
