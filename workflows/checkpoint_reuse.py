"""Checkpoint reuse of a warm-started sweep (`warm_start.from`): a trial about to train to a rung whose
config an earlier sweep already trained to that rung's step (the same digest: model, optimiser and trainer
settings with the searched parameters, the LR schedule's length, the seed and the dataset snapshot) copies
that trial's step checkpoint into its own folder instead (`copy_checkpoint`: sha256 checked before and
after) and takes the earlier rung's metrics as its result. The next rung, if any, resumes from the copy.

A copy that fails (the earlier checkpoint was deleted or rotated away, or does not verify) is a
`reuse_skip` decision and the trial trains as usual. The digest is computed the same way by the runner for
the earlier sweep's trials (`runner.warm_start`) and here for this sweep's, so both sides agree.
"""

import dataclasses
import hashlib
import json
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.coordinator import failure_message
    from workflows.payloads import activity_names
    from workflows.payloads.messages import CopyCheckpointRequest, CopyCheckpointResult, TrainResult
    from workflows.payloads.names import CONFIG_ERROR
    from workflows.payloads.records import TrialState
    from workflows.payloads.runs import TrainEvalInput
    from workflows.payloads.sweep import LadderSweepInput
    from workflows.payloads.warm_start import EarlierTrial, WarmStart
    from workflows.schedulers.book import SweepBook

REUSE_PATCH = "warm-start-reuse"
"""`workflow.patched` id of reusing earlier checkpoints (asked only when a trial's config matches one)."""
OPERATIONAL = ("heartbeat_timeout_s", "progress_interval_s", "max_attempts", "retry_max_interval_s",
               "keep_last_checkpoints", "checkpoint_every_n_steps", "num_workers", "eval_batch_size")
"""Trainer settings that change how a training is run and kept, not the weights it computes."""


def trial_digest(run: TrainEvalInput, snapshot_id: str) -> str:
    """The digest of what a trial's segment computes: `run` with the trial's parameters applied and
    `trainer.max_steps` set to the LR schedule's length, and the dataset snapshot it trains on."""
    trainer = {k: v for k, v in dataclasses.asdict(run.trainer).items() if k not in OPERATIONAL}
    what = {"model": dataclasses.asdict(run.model), "optim": dataclasses.asdict(run.optim), "trainer": trainer,
            "seed": run.seed, "snapshot": snapshot_id}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def match(warm: WarmStart | None, digest: str, step: int) -> tuple[EarlierTrial, int] | None:
    """The first earlier trial (and its rung index) that trained `digest`'s config to global step `step`."""
    if warm is None or not warm.reuse_checkpoints:
        return None
    for earlier in warm.trials:
        for rung, (at, trained) in enumerate(zip(earlier.rung_steps, earlier.digests, strict=False)):
            if at == step and trained == digest:
                return earlier, rung
    return None


async def reuse(book: SweepBook, input: LadderSweepInput, trial: TrialState, run: TrainEvalInput, step: int,
                snapshot_id: str) -> TrainResult | None:
    """The rung result of `trial`'s next segment (to global `step`, with `run`'s settings) taken from an
    earlier sweep's checkpoint copied into the trial's folder, or None: it trains."""
    if input.warm_start is None or not input.warm_start.reuse_checkpoints:
        return None
    found = match(input.warm_start, trial_digest(run, snapshot_id), step)
    if found is None or not workflow.patched(REUSE_PATCH):
        return None
    earlier, rung = found
    where = f"{earlier.sweep} trial {earlier.number} at step {step}"
    try:
        copied: CopyCheckpointResult = await workflow.execute_activity(
            activity_names.COPY_CHECKPOINT,
            CopyCheckpointRequest(run_root=input.base.run_root, source_dir=earlier.checkpoint_dir,
                                  target_dir=trial.checkpoint_dir, step=step),
            result_type=CopyCheckpointResult, task_queue=input.base.queues.orchestration,
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(seconds=input.base.trainer.heartbeat_timeout_s),
            retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=[CONFIG_ERROR]),
            summary=f"trial {trial.number}: reuse the checkpoint of {where}",
        )
    except ActivityError as error:
        book.decide("reuse_skip", trial.number, trial.target, f"trains instead of reusing the checkpoint of {where}: "
                                                               f"{failure_message(error)}")
        return None
    metric = earlier.metrics[rung]
    book.decide("reuse", trial.number, trial.target,
                f"reused checkpoint from {where} (sha256 {copied.sha256[:12]}, same config digest "
                f"{trial_digest(run, snapshot_id)[:12]}) instead of training; {run.trainer.monitor} {metric:.4f}")
    trial.reused.append(f"{earlier.sweep}#{earlier.number}@{step}")
    return TrainResult(
        best_checkpoint=copied.checkpoint, last_checkpoint=copied.checkpoint, global_step=step,
        resumed_from_step=step, attempt=0, best_score=metric, monitor=run.trainer.monitor, steps_this_attempt=0,
        final_score=metric, val_metrics=dict(earlier.rung_metrics[rung]) if rung < len(earlier.rung_metrics) else {},
    )
