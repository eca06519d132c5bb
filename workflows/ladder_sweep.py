"""LadderSweepWorkflow: successive halving (synchronous `sha`, asynchronous `asha`, several `hyperband`
brackets, or `none`) over Optuna proposals. Each trial is a sequence of `train` segments, one per rung,
each resuming from the trial's own checkpoint.

Every decision is workflow state built only from activity results (the `suggest` activity proposes
parameters; `train` segments report rung metrics) and from messages (signals, the `extend` update), all
recorded in the history, so replaying it reproduces the sweep exactly. The decisions themselves are pure
(`workflows.schedulers`: the `SweepBook` of records and one scheduler per kind); this module is their
Temporal face: the loop, activities, timers, signals, queries, the update and continue-as-new. Long sweeps
continue as new, carrying their state, before their history grows past `max_history_events`.
"""

import asyncio
import dataclasses
import math
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from workflows import accounting, budget, checkpoint_reuse, pbt_exploit, proposals, sweep_modes
    from workflows.coordinator import failure_message
    from workflows.ladder import budget_to_steps, steps_per_epoch
    from workflows.layout import archive_folder, checkpoint_root, trial_folder_name
    from workflows.payloads import activity_names
    from workflows.payloads.budget import BudgetUsed
    from workflows.payloads.messages import DatasetSnapshot, PruneRequest, TrainRequest, TrainResult
    from workflows.payloads.names import CONFIG_ERROR
    from workflows.payloads.records import ArchiveIndex, ArchiveRequest, Decision, LoadRequest, TrialState
    from workflows.payloads.runs import TrainEvalInput
    from workflows.payloads.sweep import (
        DECISIONS_PER_TRIAL,
        PRUNE_BATCH,
        BracketState,
        ExtendRequest,
        LadderSweepInput,
        LadderSweepResult,
        RungProbe,
        RungRow,
    )
    from workflows.schedulers import archive_book, open_book, rung_probe
    from workflows.schedulers.book import USER_STOP
    from workflows.schedulers.extend_check import validate_extend
    from workflows.search_attributes import BEST_METRIC
    from workflows.search_params import apply_params
    from workflows.sweep_metrics import with_best_test
    from workflows.tokenizer_snapshots import best_snapshot, make_snapshots, snapshot_for
    from workflows.train_eval import training_retry

@workflow.defn
class LadderSweepWorkflow:
    @workflow.init
    def __init__(self, input: LadderSweepInput) -> None:
        self._input = input
        self._running: dict[int, workflow.ActivityHandle] = {}
        self._book = open_book(input, self._running)
        self._s = self._book.s
        self._trials = self._book.trials
        self._tasks: set[asyncio.Task] = set()
        self._wake = False
        self._done = False
        self._crash: BaseException | None = None
        self._prefetch = proposals.Prefetch()  # proposals asked ahead of their trials' start

    # ---- the loop -------------------------------------------------------------------------------
    @workflow.run
    async def run(self, input: LadderSweepInput) -> LadderSweepResult:
        s, base, book = self._s, input.base, self._book
        sweep_modes.fix_modes(input, s)
        guard = budget.Guard(input.budget, book)  # the sweep's budget, if it has one: `workflows.budget`
        snapshot = await make_snapshots(input, s)  # one per tokenizer of the models searched
        if not s.brackets:
            s.steps_per_epoch = steps_per_epoch(snapshot.split_sizes["train"], base.trainer)
            if input.probe_trials and workflow.patched(rung_probe.PATCH):  # the ladder's start is measured first
                s.brackets = rung_probe.plan_probe(book, self._steps)
            else:
                s.brackets = [BracketState(rungs=self._steps(rungs), size=size)
                              for rungs, size in book.scheduler.plan(input.rungs, input.eta, input.n_trials)]
            if input.warm_start is not None and workflow.patched(proposals.WARM_START_PATCH):
                book.decide("warm_start", -1, -1, proposals.warm_start_detail(input))
        while True:
            self._wake = False
            book.settle()
            rung_probe.decide(book, self._steps)  # once the probe's trials have ended: where the ladder starts
            await pbt_exploit.copy_pending(self._book, input, self._trial_folder)
            await self._prune(input)
            await self._archive(input, force=False)
            handoff = self._handoff_due(input)
            guard.enforce(running=bool(self._tasks))  # spent: stops as the `stop` signal does
            if not handoff and not s.paused and not s.stopping:
                await self._load_parked(input)
                self._start_jobs(input)
                self._prefetch.fill(book, input)
            if not self._tasks:
                if handoff:
                    self._prefetch.drop()
                    await self._archive(input, force=True)  # the next run starts with the smallest state
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    s.trials = book.table()
                    s.runs += 1
                    workflow.continue_as_new(dataclasses.replace(input, state=s))
                # paused: stays open (extendable); woken: a segment ended during the archive or prune above,
                # and its result is decided on before the sweep ends
                if (s.stopping or (book.next_job() is None and not s.paused)) and not (
                        self._wake and workflow.patched("settle-before-ending")):
                    break
            await guard.wait(lambda: self._wake)  # a timer at the wall-time limit, if one is set
            if self._crash is not None:
                raise self._crash  # a bug in this workflow: fail the workflow task so Temporal retries it
        self._prefetch.drop()
        book.finish()
        self._done = True
        await self._prune(input)
        await workflow.wait_condition(workflow.all_handlers_finished)
        mixing = accounting.leaderboard_mixing(list(self._trials.values()), book.leader_order())
        if mixing is not None and workflow.patched(accounting.PATCH):
            s.decisions.append(mixing)
        await self._archive(input, force=False)
        order = book.leader_order()
        result = LadderSweepResult(
            trials=self.trials(), decisions=list(s.decisions), best_trial=order[0] if order else -1,
            total_steps=s.archived_steps + sum(t.steps_trained for t in self._trials.values()),
            rungs=self.rung_table(), runs=s.runs, archive=s.archive, stopped=s.stopping,
            stopped_by_user=list(s.stopped_by_user), budget=input.budget, budget_used=guard.used(),
            snapshot_id=snapshot.id,
        )
        return await with_best_test(result, input.base, best_snapshot(result, input, s),
                                    lambda run, params: apply_params(run, params, input.models))

    def _steps(self, budgets: list[float]) -> list[int]:
        steps = [budget_to_steps(b, self._input.unit, self._s.steps_per_epoch) for b in budgets]
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise ApplicationError(
                f"ladder rungs {budgets} ({self._input.unit}) give training steps {steps}, which are not strictly "
                f"increasing at {self._s.steps_per_epoch} steps per epoch; space the rungs further apart",
                type=CONFIG_ERROR, non_retryable=True,
            )
        return steps

    def _handoff_due(self, input: LadderSweepInput) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= input.max_history_events

    async def _prune(self, input: LadderSweepInput) -> None:
        """Delete the checkpoints of demoted trials (final: they cannot be promoted any more) that are not
        among the best k. Trials stopped by a signal, failed ones and the sweep's survivors keep theirs."""
        doomed_folders = self._book.doomed_folders(self._trial_folder)
        if not doomed_folders:
            return
        batch = len(doomed_folders)
        if batch > PRUNE_BATCH and workflow.patched("prune-in-batches"):  # sweeps started before batching replay
            batch = PRUNE_BATCH
        for first in range(0, len(doomed_folders), batch):  # one small payload per call
            await workflow.execute_activity(
                activity_names.PRUNE_CHECKPOINTS,
                PruneRequest(root=self._checkpoint_root(), folders=doomed_folders[first:first + batch]), result_type=int,
                task_queue=input.base.queues.orchestration, start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=[CONFIG_ERROR]),
                summary=f"delete the checkpoints of {len(doomed_folders[first:first + batch])} demoted trials",
            )

    # ---- jobs -----------------------------------------------------------------------------------
    async def _load_parked(self, input: LadderSweepInput) -> None:
        """Load back the parked trials the free slots will start next (promoted ones, in start order)."""
        wanted, where = archive_book.to_load(self._book, max(1, input.parallelism) - len(self._tasks))
        if not wanted:
            return
        loaded: list[TrialState] = await workflow.execute_activity(
            activity_names.LOAD_ARCHIVED_TRIALS,
            LoadRequest(folder=self._s.archive.folder, run_root=input.base.run_root, numbers=wanted,
                        parts=[where[n][1] for n in wanted]), result_type=list[TrialState],
            task_queue=input.base.queues.orchestration, start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(non_retryable_error_types=[CONFIG_ERROR]),
            summary=f"load parked trials {', '.join(map(str, wanted))} back from the archive",
        )
        archive_book.load_back(self._book, loaded, where)

    def _start_jobs(self, input: LadderSweepInput) -> None:
        while len(self._tasks) < max(1, input.parallelism):
            job = self._book.next_job()
            if job is None:
                return
            number, bracket = job
            if number >= 0 and number not in self._trials:  # parked: `_load_parked` brings it back first
                self._wake = True
                return
            if number < 0:
                number = self._book.new_trial(bracket)
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
        book = self._book
        if not trial.params:
            try:
                await proposals.propose(self._book, input, trial, self._prefetch.take(trial.number))
            except ActivityError as error:
                trial.state, trial.error = "failed", failure_message(error)
                book.decide("fail", trial.number, -1, trial.error)
                return
        if trial.number in self._s.stop_requested:
            accounting.stop_by_user(trial, USER_STOP)
            return
        bracket = self._s.brackets[trial.bracket]
        keeps = workflow.patched(accounting.PATCH)  # a user stop keeps what the segment trained
        steps = bracket.rungs[trial.target]
        run = apply_params(input.base, trial.params, input.models)
        run.trainer.max_steps = bracket.rungs[-1]  # the LR schedule spans the bracket's top rung
        trial.checkpoint_dir = self._trial_folder(trial.number)
        snapshot = snapshot_for(self._s, run.model)  # its model's tokenizer's
        reused = await checkpoint_reuse.reuse(book, input, trial, run, steps, snapshot.id)
        result = reused or await self._train(trial, run, steps, keeps, snapshot)
        if result is not None and reused is None:  # `budget.max_gpu_hours` counts what workers report
            self._s.budget.gpu_seconds += result.gpu_seconds
        trained = trial.steps_trained
        if result is not None and book.on_result(trial, result, steps, run.trainer.max_steps, keeps) and \
                input.base.upsert_best_metric and math.isfinite(trial.metrics[-1]):
            best = book.best_score()
            if best is not None:  # ranked by vectors: none while no trial is feasible (`mo_ranking.best_value`)
                workflow.upsert_search_attributes([BEST_METRIC.value_set(best)])
        if reused is not None:
            trial.steps_trained = trained  # copied from the earlier sweep, not trained

    async def _train(self, trial: TrialState, run: TrainEvalInput, steps: int, keeps: bool,
                     snapshot: DatasetSnapshot) -> TrainResult | None:
        """Train `trial`'s segment to global step `steps`; None when it failed or the user stopped it."""
        trial.segment_times.append([round(workflow.now().timestamp(), 3), 0.0])  # the report's timeline
        try:
            segment = workflow.start_activity(
                activity_names.TRAIN,
                TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot,
                             seed=run.seed, checkpoint_dir=trial.checkpoint_dir, stop_at_step=steps, run_root=run.run_root,
                             signal_progress=False, logger=run.logger, result_on_cancel=keeps),
                result_type=TrainResult,
                task_queue=run.queues.training,
                start_to_close_timeout=timedelta(days=7),
                heartbeat_timeout=timedelta(seconds=run.trainer.heartbeat_timeout_s),
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                retry_policy=training_retry(run.trainer),
                summary=f"trial {trial.number}: rung {trial.target} (to step {steps}) of bracket {trial.bracket}",
            )
            self._running[trial.number] = segment
            return await segment
        except ActivityError as error:
            if isinstance(error.cause, CancelledError) and trial.number in self._s.stop_requested:
                accounting.stop_by_user(trial, f"{USER_STOP} (checkpoint saved)")
                return None
            trial.state, trial.error = "failed", failure_message(error)
            self._book.decide("fail", trial.number, trial.target, trial.error)
            return None
        finally:
            self._running.pop(trial.number, None)
            trial.segment_times[-1][1] = round(workflow.now().timestamp(), 3)

    # ---- the archive ------------------------------------------------------------------------------
    async def _archive(self, input: LadderSweepInput, force: bool) -> None:
        """Write the trials that can leave and the decisions so far as the archive's next part, then drop
        them from the state: when `archive_batch` trials (or DECISIONS_PER_TRIAL times as many decisions)
        wait, or when `force`d (before continuing as new)."""
        s = self._s
        if input.archive_batch <= 0:
            return
        most = DECISIONS_PER_TRIAL * input.archive_batch
        while True:  # a part holds at most archive_batch trials and `most` decisions: payloads stay small
            leaving = archive_book.leaving(self._book)
            if not (leaving or s.decisions) or not (force or len(leaving) >= input.archive_batch
                                                    or len(s.decisions) >= most):
                return
            await self._write_part(input, leaving[:input.archive_batch], s.decisions[:most])

    async def _write_part(self, input: LadderSweepInput, leaving: list[TrialState], decisions: list[Decision]) -> None:
        s = self._s
        s.archive.folder = archive_folder(input.base.run_root, workflow.info().workflow_id)
        s.archive.parts += 1
        part = s.archive.parts
        await workflow.execute_activity(
            activity_names.ARCHIVE_SWEEP_RECORDS,
            ArchiveRequest(folder=s.archive.folder, index=part, run_root=input.base.run_root, trials=leaving,
                           decisions=decisions), result_type=str,
            task_queue=input.base.queues.orchestration, start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(non_retryable_error_types=[CONFIG_ERROR]),
            summary=f"archive part {part}: {len(leaving)} final trials, {len(decisions)} decisions",
        )
        archive_book.after_part(self._book, leaving, len(decisions), part)

    def _checkpoint_root(self) -> str:
        return checkpoint_root(self._input.base.run_root, workflow.info().workflow_id)

    def _trial_folder(self, number: int) -> str:
        return f"{self._checkpoint_root()}/{trial_folder_name(number)}"

    # ---- messages ---------------------------------------------------------------------------------
    @workflow.signal
    def pause(self) -> None:
        """No new segment starts; running segments finish (and checkpoint) as usual."""
        self._s.paused = True
        self._book.decide("pause", -1, -1, "pause signal")
        self._wake = True

    @workflow.signal
    def resume(self) -> None:
        self._s.paused = False
        self._book.decide("resume", -1, -1, "resume signal")
        self._wake = True

    @workflow.signal
    def stop(self) -> None:
        """Segments already running finish (and checkpoint); nothing starts afterwards; the sweep reports
        the best trial at the highest rung reached."""
        self._s.stopping = True
        self._book.decide("stop_sweep", -1, -1, "stop signal")
        self._wake = True

    @workflow.signal
    def stop_trial(self, number: int) -> None:
        """Stop one trial: a running segment is cancelled (it checkpoints first); a waiting one never starts
        again. Unknown or finished trials are ignored (the CLI checks the number first)."""
        stopped, cancel = self._book.stop_trial(number)
        if cancel:
            self._running[number].cancel()
        if stopped:
            self._wake = True

    @workflow.update
    def extend(self, request: ExtendRequest) -> str:
        """Add trials (new brackets for sha/hyperband/none; the one bracket grows for asha) and/or rungs
        above the current top (every bracket grows; trials that completed the old top become eligible
        for promotion and resume from their top-rung checkpoint)."""
        answer = self._book.extend(request, self._steps)
        self._wake = True
        return answer

    @extend.validator
    def _validate_extend(self, request: ExtendRequest) -> None:
        validate_extend(self._book, request, self._done)

    # ---- queries ----------------------------------------------------------------------------------
    @workflow.query
    def trials(self) -> list[TrialState]:
        return self._book.table()

    @workflow.query
    def archive(self) -> ArchiveIndex:
        """Where the trials and decisions that left the state are (`activities.archive.read_archive`)."""
        return self._s.archive

    @workflow.query
    def parked(self) -> list[int]:
        """Numbers of the trials waiting (or promoted, not yet training) whose records are archived."""
        return self._book.parked_numbers()

    @workflow.query
    def probe(self) -> RungProbe | None:
        """The rung probe (`ladder.probe_trials`; None without one): its `first_rung` is -1 while it runs."""
        return self._s.probe

    @workflow.query
    def is_paused(self) -> bool:
        """Paused by `pause` (and not resumed): Temporal still calls the workflow RUNNING."""
        return self._s.paused

    @workflow.query
    def decision_log(self) -> list[Decision]:
        return list(self._s.decisions)

    @workflow.query
    def leaderboard(self) -> list[TrialState]:
        return self._book.leaderboard()

    @workflow.query
    def rung_table(self) -> list[RungRow]:
        return self._book.rung_table()

    @workflow.query
    def budget_used(self) -> BudgetUsed:
        """What the sweep has used of its budget (`LadderSweepInput.budget`) so far."""
        return budget.measure(self._book, workflow.now().timestamp())
