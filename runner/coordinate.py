"""Start a CoordinatorWorkflow over many resolved runs, watch it as a live table, report its leaderboard."""

from __future__ import annotations

import csv
import hashlib
import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from temporalio.client import Client, WorkflowHandle

from runner import identity
from runner.identity import NEVER_REUSE, Attachment, attach_or_start, checkpoints_left, recorded_repo
from runner.provenance import ConfigRepoState
from runner.run_memo import coordinator_memo
from runner.search_attributes import run_labels
from runner.status_summary import coordinator_summary
from runner.submit import console, poll_until_done
from runner.terminal import Progress, fit, show
from workflows.coordinator import CoordinatorWorkflow
from workflows.payloads.runs import (
    COMPLETED,
    LEADERBOARD_METRIC,
    CoordinatorInput,
    CoordinatorJob,
    CoordinatorStatus,
    JobState,
    leaderboard_metric,
)
from workflows.payloads.specs import TaskQueues

STATE_STYLE = {"pending": "dim", "running": "cyan", "completed": "green", "failed": "red", "cancelled": "yellow"}
LOST_AFTER_S = 60.0
"""How long `watch` tolerates unanswered queries (no worker, server gone) before it gives up watching."""


def coordinator_id(name: str, jobs: list[CoordinatorJob]) -> str:
    """`NAME-xN-HASH` from the jobs' config hashes in order: the same multirun gives the same id, so a
    repeated command attaches to its coordinator (runner/identity.py)."""
    digest = hashlib.sha256("".join(job.run.config_hash for job in jobs).encode()).hexdigest()[:10]
    return f"{name}-x{len(jobs)}-{digest}"


async def start_coordinator(
    client: Client, name: str, jobs: list[CoordinatorJob], parallelism: int, queues: TaskQueues, output_dir: str,
    repo: ConfigRepoState | None = None, workflow_id: str | None = None,
) -> WorkflowHandle:
    """Start the coordinator (under `workflow_id`, else a timestamped id of its own); it labels each child
    run with its model, dataset and config hash."""
    labels = await run_labels(client, repo or ConfigRepoState(path=""), name)
    workflow_id = workflow_id or f"{coordinator_id(name, jobs)}-{time.strftime('%Y%m%d-%H%M%S')}"
    for job in jobs:
        job.run.upsert_best_metric = labels.upsert_best_metric
        job.run.logger.group = workflow_id  # the jobs' MLflow runs nest under one parent; W&B groups them
    return await client.start_workflow(
        CoordinatorWorkflow.run,
        CoordinatorInput(name=name, jobs=jobs, parallelism=parallelism, queues=queues, output_dir=output_dir,
                         upsert_best_metric=labels.upsert_best_metric),
        id=workflow_id,
        task_queue=queues.orchestration,
        id_reuse_policy=NEVER_REUSE,
        memo=coordinator_memo(jobs, parallelism, output_dir, labels.memo),
        search_attributes=labels.search_attributes,
        # what Temporal's Web UI shows of the run
        static_summary=f"multirun {name}: {len(jobs)} job{'s' * (len(jobs) != 1)}, {parallelism} at once",
        static_details="\n".join(f"- job {j.index}: {' '.join(j.overrides) or 'no overrides'}" for j in jobs),
    )


def _metric(job: JobState) -> str:
    if job.metrics:
        name = leaderboard_metric(job.metrics)
        return f"test {'acc' if name == LEADERBOARD_METRIC else name} {job.metrics.get(name, float('nan')):.4f}"
    if job.val_metric is not None:
        return f"val {job.val_metric:.4f}"
    return ""


def varying_overrides(jobs: list[JobState]) -> dict[int, str]:
    """Each job's overrides without those every job shares: what tells the jobs apart."""
    common = set.intersection(*(set(job.overrides) for job in jobs)) if len(jobs) > 1 else set()
    return {job.index: " ".join(o for o in job.overrides if o not in common) or "-" for job in jobs}


def status_table(status: CoordinatorStatus) -> Table:
    """One row per job; the job, its overrides (what tells it from the others) and its checkpoint are
    never split inside a word, nor shrunk away (`runner.terminal.fit`)."""
    counts: dict[str, int] = {}
    for job in status.jobs:
        counts[job.state] = counts.get(job.state, 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    table = Table(title=f"{status.name}: {summary} (parallelism {status.parallelism})", title_justify="left")
    for column in ("job", "overrides", "state", "step", "progress", "checkpoint", "metric"):
        table.add_column(column, no_wrap=column not in ("state", "metric"))
    shown = varying_overrides(status.jobs)
    for job in status.jobs:
        state = Text(job.state, style=STATE_STYLE.get(job.state, ""))
        if job.error and job.state != COMPLETED:
            state.append(f": {job.error[:60]}", style="red" if job.state == "failed" else "yellow")
        table.add_row(
            str(job.index), shown[job.index], state, f"{job.step}/{job.max_steps}",
            Progress(job.step, job.max_steps),
            Path(job.latest_checkpoint).name if job.latest_checkpoint else "", _metric(job),
        )
    return table


async def watch(handle: WorkflowHandle, poll_s: float = 1.0) -> CoordinatorStatus:
    """Refresh the table and its summary line until the coordinator is done (Ctrl-C stops watching, not
    the sweep)."""
    started = (await handle.describe()).start_time

    def view(status: CoordinatorStatus) -> Group:
        return Group(fit(status_table(status)), Text(coordinator_summary(status, started, datetime.now(UTC))))

    with Live(console=console, refresh_per_second=4, transient=False) as live:
        status: CoordinatorStatus = await poll_until_done(
            handle, CoordinatorWorkflow.status, lambda s: live.update(view(s)), poll_s, LOST_AFTER_S
        )
        live.update(view(status))
    return status


def leaderboard(status: CoordinatorStatus) -> list[dict]:
    """Completed jobs first, best test accuracy first; then the others in job order."""
    rows = []
    shown = varying_overrides(status.jobs)
    for job in status.jobs:
        rows.append({
            "job": job.index, "overrides": shown[job.index], "all_overrides": " ".join(job.overrides),
            "state": job.state,
            **{f"test_{k}": v for k, v in sorted(job.metrics.items())},
            "global_step": job.step, "best_checkpoint": job.best_checkpoint, "workflow_id": job.workflow_id,
            "error": job.error,
        })
    ranked_by = f"test_{leaderboard_metric(next((job.metrics for job in status.jobs if job.metrics), {}))}"
    return sorted(rows, key=lambda r: (r["state"] != COMPLETED, -r.get(ranked_by, 0.0), r["job"]))


def metric_columns(rows: list[dict]) -> list[str]:
    """The test metrics a leaderboard shows: the one that ranks it, macro-F1 where there is one, the loss."""
    metrics = next(({k.removeprefix("test_"): 0.0 for k in row if k.startswith("test_")} for row in rows
                    if any(k.startswith("test_") for k in row)), {})
    names = dict.fromkeys((leaderboard_metric(metrics), "macro_f1", "loss"))
    return [f"test_{name}" for name in names if name in metrics or not metrics]


def print_leaderboard(rows: list[dict]) -> None:
    table = Table(title="leaderboard", title_justify="left")
    metrics = metric_columns(rows)
    for column in ("rank", "job", "overrides", "state", *metrics, "error"):
        table.add_column(column, no_wrap=column in ("job", "overrides"))
    for rank, row in enumerate(rows, 1):
        table.add_row(
            str(rank) if row["state"] == COMPLETED else "-", str(row["job"]), row["overrides"], row["state"],
            *(f"{row[k]:.4f}" if k in row else "" for k in metrics), row["error"][:80],
        )
    show(table)


def write_leaderboard(folder: Path, workflow_id: str, status: CoordinatorStatus,
                      config_repo: dict | None = None) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rows = leaderboard(status)
    json_path = folder / "leaderboard.json"
    json_path.write_text(json.dumps({"workflow_id": workflow_id, "config_repo": config_repo or {}, "jobs": rows,
                                     "status": asdict(status)}, indent=2))
    csv_path = folder / "leaderboard.csv"
    columns = sorted({k for row in rows for k in row}, key=lambda k: (k not in ("job", "overrides", "state"), k))
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return csv_path, json_path


async def run_coordinator(
    jobs: list[CoordinatorJob], name: str, parallelism: int, temporal: dict, run_root: str, output_dir: Path,
    repo: ConfigRepoState | None = None, new: bool | None = None,
) -> tuple[str, CoordinatorStatus]:
    """Attach to the coordinator of these jobs, or start it (`new`, default `--new`: always start one;
    embedded server and workers when no address is set), watch it, report."""
    from runner import worker  # the workers' SDK and activities: `status` and `results` import this module too

    queues = jobs[0].run.queues
    # on one machine, the embedded worker runs as many trainings at once as the sweep's parallelism
    async with worker.serving(temporal, run_root, queues, max_concurrent_training=parallelism,
                       readable=worker.run_inputs(*(job.run for job in jobs))) as connection:
        attachment = await attach_or_start_coordinator(connection.client, name, jobs, parallelism, queues,
                                                       str(output_dir), repo, identity.START_NEW if new is None else new)
        handle = attachment.handle
        status = await watch(handle)
        # written before the workers and the server shut down, so that a failing shutdown loses nothing
        print_leaderboard(leaderboard(status))
        csv_path, _ = write_leaderboard(output_dir, handle.id, status, await recorded_repo(attachment, repo))
        console.print(f"leaderboard written to {csv_path} (and .json)", highlight=False)
    return handle.id, status


async def attach_or_start_coordinator(
    client: Client, name: str, jobs: list[CoordinatorJob], parallelism: int, queues: TaskQueues, output_dir: str,
    repo: ConfigRepoState | None = None, new: bool = False,
) -> Attachment:
    """The coordinator of these jobs (`coordinator_id`): attached to, or started and announced."""

    async def start(workflow_id: str) -> WorkflowHandle:
        handle = await start_coordinator(client, name, jobs, parallelism, queues, output_dir, repo, workflow_id)
        console.print(f"started coordinator {handle.id} with {len(jobs)} jobs", highlight=False)
        return handle

    return await attach_or_start(client, coordinator_id(name, jobs), start, "coordinator", new, CoordinatorStatus,
                                 used=lambda workflow_id: checkpoints_left(jobs[0].run.run_root, workflow_id, "-job*"))
