"""One workflow per identity: a repeated command attaches to its run instead of starting a second one.

A run's identity is its resolved config; its workflow id is derived from it (no timestamp), e.g.
`NAME-HASH` for a single run. Starting again finds that workflow and attaches to it while it runs or
once it completed. A run of the identity that ended otherwise (failed, cancelled, terminated, timed
out), or `--new`, gets a fresh run under the next id of the series `ID`, `ID-2`, `ID-3`, ... (fresh
ids, because checkpoints live under the workflow id: a fresh run never resumes from an earlier one's).
Ids are never reused (Temporal's REJECT_DUPLICATE), so two runners starting the same identity at the
same instant race on one id: one starts it, the other is told it exists and attaches to it.
"""

from __future__ import annotations

import glob
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from runner.interrupt import followed
from runner.provenance import ConfigRepoState
from runner.submit import console, run_identity_id, start_run
from workflows.layout import CHECKPOINTS
from workflows.payloads.runs import TrainEvalInput, TrainEvalResult

NEVER_REUSE = WorkflowIDReusePolicy.REJECT_DUPLICATE
"""Every start of a run passes this: an id names one run for good (its checkpoints, its history)."""
ATTACHABLE = (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED,
              WorkflowExecutionStatus.CONTINUED_AS_NEW)
"""A run of the identity in one of these states is the run: a repeated command follows it or reports it."""

START_NEW = False
"""`--new` on the command line: start a fresh run even when one of the same identity exists."""


@dataclass
class Attachment:
    handle: WorkflowHandle
    """The run to follow: the existing one, or the one started now."""
    attached: bool
    """True when the run existed (started by an earlier command, or by another runner at the same time)."""


def series_id(canonical: str, number: int) -> str:
    """The id of the `number`th run of an identity: the canonical id first, then `-2`, `-3`, ..."""
    return canonical if number <= 1 else f"{canonical}-{number}"


async def run_status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    """The status of the workflow `workflow_id` (its latest run), or None when there is none."""
    try:
        return (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def latest_run(client: Client, canonical: str) -> tuple[int, WorkflowExecutionStatus | None]:
    """(number, status) of the newest run of the series, or (0, None) when it has none. Read by id, not
    through the visibility store, so a run started a moment ago is seen."""
    number, status = 0, None
    while (found := await run_status(client, series_id(canonical, number + 1))) is not None:
        number, status = number + 1, found
    return number, status


async def attach_or_start(
    client: Client, canonical: str, start: Callable[[str], Awaitable[WorkflowHandle]], what: str = "run",
    new: bool = False, result_type: type | None = None,
    before_start: Callable[[], Awaitable[None]] | None = None, used: Callable[[str], bool] | None = None,
) -> Attachment:
    """Attach to the newest run of the identity `canonical` while it runs or once it completed; else
    start one with `start(workflow_id)`, which must pass `id_reuse_policy=NEVER_REUSE`.

    `new` always starts a fresh run. `before_start` runs once before a first start of the identity
    (not for `new`), e.g. to refuse a changed config under a name already in use. A start that finds its
    id taken (another runner got there first) attaches to that run instead. `used(workflow_id)`: whether
    files of a run under that id are still here (its checkpoints); such an id whose run the server no
    longer knows (its history passed the namespace's retention) is skipped, so a fresh run never resumes
    from an old run's checkpoints."""
    number, status = await latest_run(client, canonical)
    if status is None and not new and before_start is not None:
        await before_start()
    forgotten = False  # the id's run is gone from the server, its files are not
    while True:
        workflow_id = series_id(canonical, number)
        if status is not None and not new and status in ATTACHABLE:
            console.print(f"{what} {workflow_id} exists ({status.name}): attaching to it (--new starts another)",
                          highlight=False)
            followed(workflow_id)
            return Attachment(client.get_workflow_handle(workflow_id, result_type=result_type), attached=True)
        if status is not None or forgotten:
            why = ("ended long ago (not on the server any more; its checkpoints are)" if status is None
                   else f"exists ({status.name}); --new" if new else f"ended {status.name}")
            console.print(f"{what} {workflow_id} {why}: starting a fresh one, {series_id(canonical, number + 1)} "
                          f"(new checkpoints)", highlight=False)
        number += 1
        candidate = series_id(canonical, number)
        if used is not None and used(candidate):
            status = await run_status(client, candidate)
            forgotten = status is None
            continue
        try:
            followed(candidate)
            return Attachment(await start(candidate), attached=False)
        except WorkflowAlreadyStartedError:
            status = await run_status(client, candidate)  # started elsewhere just now
            forgotten = status is None  # or gone again (retention): never reuse an id, take the next one


async def attach_or_start_run(client: Client, run: TrainEvalInput, plain: dict[str, Any],
                              repo: ConfigRepoState | None = None, new: bool = False) -> Attachment:
    """The single run of this config (`EXPERIMENT-HASH`): attached to, or started and announced."""

    async def start(workflow_id: str) -> WorkflowHandle:
        handle = await start_run(client, run, plain, workflow_id=workflow_id, repo=repo, id_reuse_policy=NEVER_REUSE)
        console.print(f"started workflow {handle.id}", highlight=False)
        return handle

    return await attach_or_start(client, run_identity_id(run), start, "run", new, TrainEvalResult,
                                 used=lambda workflow_id: checkpoints_left(run.run_root, workflow_id))


def checkpoints_left(run_root: str, workflow_id: str, suffix: str = "") -> bool:
    """Whether `{run_root}/checkpoints` holds a folder of the run `workflow_id` (`suffix`: a glob after the
    id, e.g. `-job*` for a coordinator's children)."""
    folder = Path(run_root) / CHECKPOINTS
    return any(folder.glob(glob.escape(workflow_id) + suffix)) if suffix else (folder / workflow_id).exists()


async def recorded_repo(attachment: Attachment, repo: ConfigRepoState | None) -> dict[str, Any]:
    """Where the run's config came from: as the attached run recorded it (its memo), else `repo`."""
    if attachment.attached:
        memo = await (await attachment.handle.describe()).memo()
        return dict(memo.get("config_repo") or {})
    return asdict(repo or ConfigRepoState(path=""))
