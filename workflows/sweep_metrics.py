"""The metrics users choose a sweep's trial by, in LadderSweepWorkflow: every validation metric at each
rung (`SweepBook.on_result`: loss, accuracy, macro-F1, whatever the training's validation logs), and, at the end,
the best trial's test metrics (`with_best_test`: its best checkpoint scored on the test split by the
`evaluate` activity, as a single run's is; `workflows.train_eval`).

The evaluation is a new activity call at the end of a sweep, behind the `workflow.patched(TEST_PATCH)`
marker: sweeps whose histories ended without it replay without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.coordinator import failure_message
    from workflows.payloads import activity_names
    from workflows.payloads.messages import DatasetSnapshot, EvalResult, EvaluateRequest
    from workflows.payloads.names import CONFIG_ERROR
    from workflows.payloads.runs import TrainEvalInput

TEST_PATCH = "sweep-best-test-metrics"
"""`workflow.patched` id of the best trial's test evaluation at the end of a sweep."""


async def with_best_test(result: Any, base: TrainEvalInput, snapshot: DatasetSnapshot | None,
                         apply_params: Callable[[TrainEvalInput, dict[str, Any]], TrainEvalInput]) -> Any:
    """`result` (a LadderSweepResult) with its best trial's test metrics (`best_test`), or with the reason it
    has none (`best_test_note`): no trial finished a rung, the dataset has no test split, the trial's
    checkpoints were deleted, or the evaluation failed (the sweep's own result stands either way)."""
    best = next((t for t in result.trials if t.number == result.best_trial), None)
    if best is None or snapshot is None or not workflow.patched(TEST_PATCH):
        return result
    checkpoint = best.best_checkpoint or best.checkpoint
    if not snapshot.split_sizes.get("test"):
        return replace(result, best_test_note="the dataset has no test split")
    if best.checkpoints_pruned or not checkpoint:
        return replace(result, best_test_note=f"trial {best.number}'s checkpoints were deleted")
    run = apply_params(base, best.params)
    try:
        evaluated: EvalResult = await workflow.execute_activity(
            activity_names.EVALUATE,
            EvaluateRequest(model=run.model, snapshot=snapshot, checkpoint=checkpoint,
                            batch_size=run.trainer.eval_batch_size, accelerator=run.trainer.accelerator),
            result_type=EvalResult,
            task_queue=base.queues.orchestration,
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(seconds=run.trainer.heartbeat_timeout_s),
            retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=[CONFIG_ERROR]),
            summary=f"trial {best.number} (best): test metrics of {checkpoint.rsplit('/', 1)[-1]}",
        )
    except ActivityError as error:
        return replace(result, best_test_note=f"the test evaluation of trial {best.number} failed: "
                                              f"{failure_message(error)}")
    return replace(result, best_test=evaluated,
                   best_test_note=f"trial {best.number}'s best checkpoint {checkpoint} on the test split")
