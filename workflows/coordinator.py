"""CoordinatorWorkflow: many TrainEvalWorkflow children in flight at once, under one durable parent.

Each distinct dataset snapshot is made once, before any child starts, and handed to every child that
uses it. Children start in job order with at most `parallelism` running; each forwards its training
progress here by signal, so the `status` query answers from workflow state alone. One child failing or
being cancelled never stops the others; the result says which ended how and why.
"""

import asyncio
import json
from dataclasses import asdict

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, CancelledError, ChildWorkflowError, FailureError
from temporalio.workflow import ChildWorkflowCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.payloads.messages import DatasetSnapshot
    from workflows.payloads.names import JOB_PROGRESS_SIGNAL
    from workflows.payloads.runs import (
        CANCELLED,
        COMPLETED,
        ENDED,
        FAILED,
        PENDING,
        RUNNING,
        CoordinatorInput,
        CoordinatorJob,
        CoordinatorStatus,
        JobProgress,
        JobState,
        TrainEvalInput,
        TrainEvalResult,
        leaderboard_metric,
    )
    from workflows.search_attributes import BEST_METRIC, CONFIG_HASH, DATASET, EXPERIMENT, GIT_SHA, MODEL
    from workflows.train_eval import TrainEvalWorkflow, make_snapshot


def failure_message(error: BaseException) -> str:
    """The reason a run failed: the first application error under the child/activity wrappers."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return f"{cause.type}: {cause.message}" if cause.type else cause.message
        cause = cause.__cause__
    return str(error)


def job_summary(job: CoordinatorJob) -> str:
    """What Temporal's Web UI shows for a job's child run: its number and overrides."""
    return f"job {job.index}: {' '.join(job.overrides) or 'no overrides'}"


def _snapshot_key(run: TrainEvalInput) -> str:
    return json.dumps([asdict(run.dataset), run.model.tokenizer, run.run_root], sort_keys=True)


@workflow.defn
class CoordinatorWorkflow:
    @workflow.init
    def __init__(self, input: CoordinatorInput) -> None:
        # the job table exists before any signal handler runs (a cancel may arrive with the start)
        own_id = workflow.info().workflow_id
        self._upsert = input.upsert_best_metric
        self._jobs: dict[int, JobState] = {
            job.index: JobState(
                index=job.index, overrides=list(job.overrides), workflow_id=f"{own_id}-job{job.index}",
                max_steps=job.run.trainer.max_steps,
            )
            for job in input.jobs
        }
        self._children: dict[int, workflow.ChildWorkflowHandle] = {}
        self._name, self._parallelism, self._output_dir = input.name, input.parallelism, input.output_dir
        self._done = False

    @workflow.run
    async def run(self, input: CoordinatorInput) -> CoordinatorStatus:
        snapshots = await self._make_snapshots(input)
        slots = asyncio.Semaphore(max(1, input.parallelism))
        await asyncio.gather(*(self._run_job(job, snapshots, slots) for job in input.jobs))
        self._done = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()

    async def _make_snapshots(self, input: CoordinatorInput) -> dict[str, DatasetSnapshot | str]:
        """One snapshot per distinct (dataset, tokenizer); a failure is kept as the jobs' error message."""
        distinct = {_snapshot_key(job.run): job.run for job in input.jobs}

        async def one(run: TrainEvalInput) -> DatasetSnapshot | str:
            try:
                return await make_snapshot(run.dataset, run.model.tokenizer, run.run_root, input.queues)
            except FailureError as error:
                return failure_message(error)

        made = await asyncio.gather(*(one(run) for run in distinct.values()))
        return dict(zip(distinct, made, strict=False))

    async def _run_job(
        self, job: CoordinatorJob, snapshots: dict[str, DatasetSnapshot | str], slots: asyncio.Semaphore
    ) -> None:
        state = self._jobs[job.index]
        snapshot = snapshots[_snapshot_key(job.run)]
        if isinstance(snapshot, str):
            state.state, state.error = FAILED, f"dataset snapshot failed: {snapshot}"
            return
        async with slots:
            if state.state == CANCELLED:  # cancelled while waiting for a slot
                return
            state.state, state.started_at = RUNNING, workflow.now().isoformat()
            run = job.run
            run.snapshot, run.job_index = snapshot, job.index
            try:
                handle = await workflow.start_child_workflow(
                    TrainEvalWorkflow.run, run, id=state.workflow_id, task_queue=run.queues.orchestration,
                    cancellation_type=ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
                    # if the coordinator ends (cancelled), each child is asked to cancel too, so its
                    # training saves a checkpoint and stops instead of running on orphaned
                    parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                    memo={"config_hash": run.config_hash, "overrides": job.overrides},
                    static_summary=job_summary(job),
                    search_attributes=self._child_attributes(run) if self._upsert else None,
                )
                self._children[job.index] = handle
                result: TrainEvalResult = await handle
                state.state, state.metrics = COMPLETED, dict(result.metrics)
                self._upsert_best()
                state.best_checkpoint = result.best_checkpoint
                state.step = result.train.global_step
            except ChildWorkflowError as error:
                cancelled = isinstance(error.cause, CancelledError)
                state.state = CANCELLED if cancelled else FAILED
                state.error = "cancelled" if cancelled else failure_message(error)
            except asyncio.CancelledError:  # the coordinator itself is being cancelled
                state.state, state.error = CANCELLED, "coordinator cancelled"
                raise
            finally:
                state.ended_at = workflow.now().isoformat()
                self._children.pop(job.index, None)

    def _child_attributes(self, run: TrainEvalInput) -> TypedSearchAttributes:
        """The coordinator's own attributes (experiment, config commit), with the child's run."""
        mine = [pair for pair in workflow.info().typed_search_attributes
                if pair.key.name in (EXPERIMENT.name, GIT_SHA.name)]
        return TypedSearchAttributes([*mine, SearchAttributePair(CONFIG_HASH, run.config_hash),
                                      SearchAttributePair(MODEL, run.model.name),
                                      SearchAttributePair(DATASET, run.dataset.name)])

    def _upsert_best(self) -> None:
        scores = [job.metrics[leaderboard_metric(job.metrics)] for job in self._jobs.values()
                  if job.state == COMPLETED and leaderboard_metric(job.metrics) in job.metrics]
        if self._upsert and scores:
            workflow.upsert_search_attributes([BEST_METRIC.value_set(max(scores))])

    @workflow.signal(name=JOB_PROGRESS_SIGNAL)
    def job_progress(self, report: JobProgress) -> None:
        state = self._jobs.get(report.job_index)
        p = report.progress
        if state is None or state.state in ENDED or (p.attempt, p.step) < (state.attempt, state.step):
            return
        state.step, state.max_steps, state.attempt = p.step, p.max_steps or state.max_steps, p.attempt
        state.loss, state.val_metric = p.loss, p.val_metric
        state.latest_checkpoint = p.latest_checkpoint or state.latest_checkpoint

    @workflow.signal
    async def cancel_job(self, index: int) -> None:
        """Cancel one job: a running child saves a checkpoint and ends cancelled; a pending one never starts."""
        state = self._jobs.get(index)
        if state is None or state.state in ENDED:
            return
        if state.state == PENDING:
            state.state, state.error = CANCELLED, "cancelled before it started"
            state.ended_at = workflow.now().isoformat()
            return
        await workflow.wait_condition(lambda: index in self._children or state.state in ENDED)
        if index in self._children:
            self._children[index].cancel()

    @workflow.query
    def status(self) -> CoordinatorStatus:
        return CoordinatorStatus(
            name=self._name, parallelism=self._parallelism, done=self._done,
            jobs=[self._jobs[i] for i in sorted(self._jobs)], output_dir=self._output_dir,
        )
