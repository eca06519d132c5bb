"""TrainEvalWorkflow: snapshot a dataset, train with checkpoints, evaluate, optionally predict.

Generic: the model, dataset and trainer are opaque specs for the activities; nothing here knows BERT.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError, FailureError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from workflows.layout import checkpoint_root
    from workflows.param_schedule import segments
    from workflows.payloads import activity_names as names
    from workflows.payloads.messages import (
        DatasetSnapshot,
        EvalResult,
        EvaluateRequest,
        Prediction,
        PredictRequest,
        SnapshotRequest,
        TrainProgress,
        TrainRequest,
        TrainResult,
    )
    from workflows.payloads.names import CONFIG_ERROR, JOB_PROGRESS_SIGNAL, PROGRESS_SIGNAL
    from workflows.payloads.runs import JobProgress, RunStatus, TrainEvalInput, TrainEvalResult, leaderboard_metric
    from workflows.payloads.specs import DatasetSpec, TaskQueues, TrainerSpec
    from workflows.search_attributes import BEST_METRIC
    from workflows.search_params import apply_params

EVALUATION_KEPT = "cancel-keeps-evaluation"
"""`workflow.patched` id: a cancel that lands once the training has reached its last step no longer drops
the evaluation (runs started before it replay as they ran)."""
LAST_PROGRESS_FORWARDED = "cancel-forwards-last-progress"
"""`workflow.patched` id: a cancelled run ends only once its last progress report (the step and the
checkpoint it saved on the cancel) reached its coordinator, which ignores reports after a job ended."""
PARAM_SCHEDULE = "param-schedule"
"""`workflow.patched` id: a run with a `schedule` trains one segment per entry (`workflows.param_schedule`)."""


def _light_activity_retry() -> RetryPolicy:
    return RetryPolicy(maximum_attempts=3, non_retryable_error_types=[CONFIG_ERROR])


def training_retry(trainer: TrainerSpec) -> RetryPolicy:
    """Retries of a training activity: unlimited in Temporal, because an attempt that saved a newer
    checkpoint made progress; the activity itself fails for good after `trainer.max_attempts` attempts
    in a row that ended without one (`activities.train`). The wait between attempts doubles from 1 s up
    to `trainer.retry_max_interval_s`, so a worker that returns is put to work within that bound."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=trainer.retry_max_interval_s),
        maximum_attempts=0,
        non_retryable_error_types=[CONFIG_ERROR],
    )


async def make_snapshot(dataset: DatasetSpec, tokenizer: str, run_root: str, queues: TaskQueues) -> DatasetSnapshot:
    """Run `snapshot_dataset` (content-addressed: an existing snapshot is reused)."""
    return await workflow.execute_activity(
        names.SNAPSHOT_DATASET,
        SnapshotRequest(dataset=dataset, tokenizer=tokenizer, run_root=run_root),
        result_type=DatasetSnapshot,
        task_queue=queues.orchestration,
        start_to_close_timeout=timedelta(hours=2),
        heartbeat_timeout=timedelta(minutes=5),
        retry_policy=_light_activity_retry(),
        summary=f"snapshot {dataset.name or dataset.path} for {tokenizer}",
    )


def _job(input: TrainEvalInput) -> str:
    """`job N: ` for a multirun's job (the Web UI's activity summaries name it), else ''."""
    return f"job {input.job_index}: " if input.job_index >= 0 else ""


@workflow.defn
class TrainEvalWorkflow:
    def __init__(self) -> None:
        self._job_index = -1
        self._stage = "starting"
        self._progress = TrainProgress()
        self._snapshot_id = ""
        self._metrics: dict[str, float] = {}
        self._max_steps = 0
        self._scheduled = False
        self._retries = 0
        """Retries of the earlier segments of a scheduled run (`report_progress` counts attempts over them)."""

    @workflow.run
    async def run(self, input: TrainEvalInput) -> TrainEvalResult:
        self._progress.max_steps = self._max_steps = input.trainer.max_steps

        self._job_index = input.job_index
        snapshot = input.snapshot
        if snapshot is None:
            self._stage = "snapshot"
            snapshot = await make_snapshot(input.dataset, input.model.tokenizer, input.run_root, input.queues)
        self._snapshot_id = snapshot.id

        self._stage = "train"
        heartbeat = timedelta(seconds=input.trainer.heartbeat_timeout_s)
        keeps = workflow.patched(EVALUATION_KEPT)
        if input.schedule and workflow.patched(PARAM_SCHEDULE):
            self._scheduled = True
            for segment in segments(input.schedule, input.trainer.max_steps):
                trained = await self._train(apply_params(input, segment.params), snapshot, keeps, heartbeat,
                                            segment.stop, segment.params)
                if trained.cancelled or trained.stopped_early:  # early stopping ends the run, not the segment
                    break
                self._retries += trained.attempt - 1
        else:
            trained = await self._train(input, snapshot, keeps, heartbeat)

        note = ""
        if trained.cancelled:  # `result_on_cancel`: it saved a checkpoint and stopped
            if trained.global_step < input.trainer.max_steps:
                if workflow.patched(LAST_PROGRESS_FORWARDED):
                    await workflow.wait_condition(workflow.all_handlers_finished)
                raise CancelledError(f"cancelled at step {trained.global_step} (checkpoint saved)")
            note = "a cancel arrived after the training's last step: its evaluation is kept"

        self._stage = "evaluate"
        request = EvaluateRequest(model=input.model, snapshot=snapshot, checkpoint=trained.best_checkpoint,
                                  batch_size=input.trainer.eval_batch_size, accelerator=input.trainer.accelerator)
        try:
            evaluated = await self._evaluate(input, request, heartbeat)
        except (ActivityError, asyncio.CancelledError) as error:
            if not (keeps and is_cancelled_exception(error)):
                raise
            # the training is done: the cancel (delivered once) drops nothing; evaluate again, to the end
            note = "a cancel arrived after the training's last step: its evaluation is kept"
            evaluated = await self._evaluate(input, request, heartbeat)
        self._metrics = dict(evaluated.metrics)
        ranked_by = leaderboard_metric(self._metrics)
        if input.upsert_best_metric and ranked_by in self._metrics:
            workflow.upsert_search_attributes([BEST_METRIC.value_set(self._metrics[ranked_by])])

        predictions: list[Prediction] = []
        if input.predict_texts:
            self._stage = "predict"
            try:
                predictions = await workflow.execute_activity(
                    names.PREDICT,
                    PredictRequest(
                        model=input.model,
                        snapshot=snapshot,
                        checkpoint=trained.best_checkpoint,
                        texts=list(input.predict_texts),
                        accelerator=input.trainer.accelerator,
                    ),
                    result_type=list[Prediction],
                    task_queue=input.queues.orchestration,
                    start_to_close_timeout=timedelta(minutes=30),
                    retry_policy=_light_activity_retry(),
                    summary=f"{_job(input)}predict {len(input.predict_texts)} texts",
                )
            except (ActivityError, asyncio.CancelledError) as error:
                if not (keeps and is_cancelled_exception(error)):
                    raise
                note = "a cancel arrived while it predicted: its evaluation is kept, the predictions were not made"

        self._stage = "done"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return TrainEvalResult(
            metrics=self._metrics,
            best_checkpoint=trained.best_checkpoint,
            dataset_snapshot_id=snapshot.id,
            config_hash=input.config_hash,
            train=trained,
            predictions=predictions,
            label_names=list(snapshot.label_names),
            per_class=evaluated.per_class,
            confusion_matrix=evaluated.confusion_matrix,
            points=evaluated.points,
            class_counts=snapshot.class_counts,
            task=snapshot.task.name,
            note=note,
        )

    async def _train(self, input: TrainEvalInput, snapshot: DatasetSnapshot, keeps: bool, heartbeat: timedelta,
                     stop_at: int = 0, params: dict | None = None) -> TrainResult:
        """Train `input`'s run from its newest checkpoint to `stop_at` (0: trainer.max_steps); `params`: the
        scheduled parameters it trains with, for the activity's summary."""
        changed = f" with {', '.join(f'{k}={v}' for k, v in params.items())}" if params else ""
        trained: TrainResult = await workflow.execute_activity(
            names.TRAIN,
            TrainRequest(
                model=input.model,
                optim=input.optim,
                trainer=input.trainer,
                snapshot=snapshot,
                seed=input.seed,
                checkpoint_dir=checkpoint_root(input.run_root, workflow.info().workflow_id),
                stop_at_step=stop_at,
                run_root=input.run_root,
                logger=input.logger,
                result_on_cancel=keeps,
            ),
            result_type=TrainResult,
            task_queue=input.queues.training,
            start_to_close_timeout=timedelta(days=7),
            heartbeat_timeout=heartbeat,
            # on cancellation, wait for the training to save its checkpoint and stop
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            retry_policy=training_retry(input.trainer),
            summary=f"{_job(input)}train to step {stop_at or input.trainer.max_steps}{changed}",
        )
        return trained

    async def _evaluate(self, input: TrainEvalInput, request: EvaluateRequest, heartbeat: timedelta) -> EvalResult:
        return await workflow.execute_activity(
            names.EVALUATE, request, result_type=EvalResult, task_queue=input.queues.orchestration,
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=heartbeat,  # it heartbeats per batch: a lost worker is noticed as in training
            retry_policy=_light_activity_retry(),
            summary=f"{_job(input)}test metrics of {request.checkpoint.rsplit('/', 1)[-1]}",
        )

    @workflow.signal(name=PROGRESS_SIGNAL)
    async def report_progress(self, progress: TrainProgress) -> None:
        """Training reports here; a report from an older attempt or step never overwrites a newer one.
        A run inside a coordinator forwards the report to it. A scheduled run counts attempts over its
        segments: a retry in one segment raises the attempt its later segments report."""
        if self._scheduled:
            # a segment's training counts to its own stop step and its own attempts: report the run's end,
            # and count attempts over the segments, so a retried segment's successor's reports stay newer
            progress.max_steps = self._max_steps
            progress.attempt += self._retries
        if (progress.attempt, progress.step) < (self._progress.attempt, self._progress.step):
            return
        self._progress = progress
        parent = workflow.info().parent
        if parent is None:
            return
        try:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                JOB_PROGRESS_SIGNAL, JobProgress(job_index=self._job_index, progress=progress)
            )
        except FailureError as error:  # e.g. the coordinator already closed: progress is informative only
            workflow.logger.info("progress not forwarded to %s: %s", parent.workflow_id, error)

    @workflow.query
    def status(self) -> RunStatus:
        return RunStatus(
            stage=self._stage, progress=self._progress, snapshot_id=self._snapshot_id, metrics=self._metrics
        )
