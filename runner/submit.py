"""Submit a TrainEvalWorkflow, follow its progress through the `status` query, report its result."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy

from runner.provenance import ConfigRepoState
from runner.result_view import per_class_table, result_document
from runner.run_memo import single_memo
from runner.search_attributes import run_labels
from runner.terminal import console, say, show
from workflows.payloads.runs import RunStatus, TrainEvalInput, TrainEvalResult
from workflows.train_eval import TrainEvalWorkflow


def run_identity_id(run: TrainEvalInput) -> str:
    """The run's id from its identity, `EXPERIMENT-HASH` (the config hash's first 10 digits): the same
    command gives the same id, so it attaches to its run (runner/identity.py)."""
    return f"{run.experiment}-{run.config_hash[:10]}"


def workflow_id_for(run: TrainEvalInput) -> str:
    """A timestamped id, for starts that want a run of their own whatever exists (tests, benchmarks)."""
    return f"{run_identity_id(run)}-{time.strftime('%Y%m%d-%H%M%S')}"


async def start_run(
    client: Client, run: TrainEvalInput, plain_config: dict[str, Any], workflow_id: str | None = None,
    repo: ConfigRepoState | None = None, id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    memo: dict[str, Any] | None = None,
) -> WorkflowHandle:
    """Start the workflow with the resolved config, its hash and the config repo's commit in the memo
    (and `memo`'s entries: a rerun's `rerun_of`), labelled with the search attributes the namespace has."""
    labels = await run_labels(client, repo or ConfigRepoState(path=""), run.experiment, run.config_hash,
                              run.model.name, run.dataset.name)
    run.upsert_best_metric = labels.upsert_best_metric
    return await client.start_workflow(
        TrainEvalWorkflow.run,
        run,
        id=workflow_id or workflow_id_for(run),
        task_queue=run.queues.orchestration,
        memo=single_memo(plain_config, run.config_hash, {**labels.memo, **(memo or {})}, run.run_root),
        search_attributes=labels.search_attributes,
        id_reuse_policy=id_reuse_policy,
        static_summary=f"{run.experiment}: {run.model.name} on {run.dataset.name}, {run.trainer.max_steps} steps "
                       f"(config {run.config_hash[:10]})",  # Temporal's Web UI names the run by it
    )


def progress_line(status: RunStatus, detail: str = "") -> str:
    p = status.progress
    parts = [f"[{status.stage}]"] + ([detail] if detail else [])
    if status.stage in ("train", "evaluate", "predict", "done") and p.max_steps:
        parts.append(f"step {p.step}/{p.max_steps}")
    if p.loss is not None:
        parts.append(f"loss {p.loss:.4f}")
    if p.val_metric is not None:
        parts.append(f"val {p.val_metric:.4f}")
    if p.attempt > 1:
        parts.append(f"attempt {p.attempt} (resumed from step {p.resumed_from_step})")
    if p.latest_checkpoint:
        parts.append(f"ckpt {Path(p.latest_checkpoint).name}")
    return "  ".join(parts)


async def poll_until_done(
    handle: WorkflowHandle, query: Any, show: Callable[[Any], None], poll_s: float = 1.0,
    give_up_after_s: float | None = None, query_timeout_s: float = 10.0,
) -> Any:
    """Pass each answer of `query` (a query, or a coroutine function) to `show` until the workflow's
    result is ready; return the result.

    A query fails while no worker polls; it is retried (an error of `show` is not: it is raised). With
    `give_up_after_s`, that long without an answer raises LookupError (the run itself is safe and can be
    watched again)."""
    fetch = query if asyncio.iscoroutinefunction(query) else (lambda: handle.query(query))
    result = asyncio.ensure_future(handle.result())
    failures = 0
    try:
        while not result.done():
            try:
                # `asyncio.timeout`, not `wait_for`: on Python 3.11 `wait_for` swallows a Ctrl-C (the task's
                # cancellation) that lands as the query answers, and the watcher would never leave
                async with asyncio.timeout(query_timeout_s):
                    answer = await fetch()
            except Exception as error:  # no worker polling yet, or the server restarting
                failures += 1
                if give_up_after_s is not None and failures * poll_s >= give_up_after_s:
                    raise LookupError(
                        f"no answer from {handle.id} for {give_up_after_s:.0f} s ({error}); the run itself is safe: "
                        f"`train-tune status {handle.id}` attaches again"
                    ) from error
            else:
                failures = 0
                show(answer)  # what it does with the answer (draw, write a file) fails on its own, not retried
            await asyncio.wait({result}, timeout=poll_s)
        return result.result()
    finally:
        result.cancel()  # a watcher that leaves stops waiting for the result (a no-op once it came)


async def follow(handle: WorkflowHandle, poll_s: float = 1.0) -> TrainEvalResult:
    """Print a progress line whenever the workflow's status changes; return the workflow's result."""
    shown = ""

    async def fetch() -> tuple[RunStatus, str]:
        status = await handle.query(TrainEvalWorkflow.status)
        return status, (await snapshot_progress(handle) if status.stage == "snapshot" else "")

    def show(answer: tuple[RunStatus, str]) -> None:
        nonlocal shown
        line = progress_line(*answer)
        if line != shown:
            console.print(line, highlight=False, markup=False)
            shown = line

    return await poll_until_done(handle, fetch, show, poll_s)


async def snapshot_progress(handle: WorkflowHandle) -> str:
    """'tokenising SPLIT N/M' from the snapshot activity's last heartbeat ('' before the first)."""
    description = await handle.describe()
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name == "snapshot_dataset" and pending.heartbeat_details.payloads:
            (details,) = await handle._client.data_converter.decode(  # the handle's client
                pending.heartbeat_details.payloads, [dict])
            return f"tokenising {details.get('split')} {details.get('done')}/{details.get('total')}"
    return ""


def print_result(workflow_id: str, result: TrainEvalResult) -> None:
    table = Table(title="test metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in sorted(result.metrics.items()):
        table.add_row(name, f"{value:.4f}")
    console.print(f"workflow {workflow_id} completed", highlight=False)
    show(table)
    show(per_class_table(result))
    say(f"best checkpoint: {result.best_checkpoint}")
    console.print(
        f"global step {result.train.global_step} (attempt {result.train.attempt}, "
        f"resumed from step {result.train.resumed_from_step})  dataset snapshot {result.dataset_snapshot_id}  "
        f"config hash {result.config_hash[:12]}",
        highlight=False,
    )
    for prediction in result.predictions:
        score = "" if result.task == "regression" else f" ({prediction.score:.2f})"  # a value is its own label
        console.print(f"predict: {prediction.label}{score}  {prediction.text[:80]}", highlight=False, markup=False)
    if result.note:
        console.print(f"note: {result.note}", highlight=False, markup=False)


def write_result(folder: Path, workflow_id: str, result: TrainEvalResult, config_repo: dict | None = None,
                 origin: dict | None = None) -> Path:
    """result.json: the result, with where its config came from (`config_repo`: path, commit, dirty), its
    labels (`runner.result_view.result_document`) and, for a sweep's best config, the sweep, trial, step
    and metric it reproduces (`origin`; runner/best_config.py)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "result.json"
    document = result_document(workflow_id, result, config_repo)
    if origin:
        document["origin"] = origin
    path.write_text(json.dumps(document, indent=2))
    return path


__all__ = ["WorkflowFailureError", "console", "follow", "print_result", "start_run", "write_result"]
