"""Watchers serve a run only when nobody else does.

`status`, `results`, `cancel` and `rerun` from another terminal must not take trainings from the process
that serves the run (its runner, or a `train-tune worker`), yet a run whose runner died must go on while it
is watched. So on the embedded server such a command runs local workers for a task queue only while no live
process serves it, and checks again every `STANDBY_S` while it does not serve (a runner killed mid-watch is
taken over). A live process serves a queue when:

- it holds that queue's serving lock (`runner.serving_locks`: a shared flock beside the embedded server's SQLite
  file, taken by every train-tune process whose local workers poll the queue, released by the kernel when
  the process dies, even by SIGKILL); or
- Temporal lists a poller on the queue (DescribeTaskQueue) whose identity `PID@HOST` names a live process of
  this host other than this one, or a process of another host: workers started without train-tune's
  runner (a script, an older version) count too. The server lists pollers for minutes after they stopped,
  so a poller of this host is believed only while its process lives.

A remote cluster has workers of its own: there a watcher never serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from activities.confinement import Confinement
from runner.serving_locks import locked_by_another, serving_locks
from workflows.payloads.specs import TaskQueues

STANDBY_S = 2.0
"""How often a watcher that does not serve checks whether the run's queues are still served."""

ROLES = ("orchestration", "training")

TAKEN_OVER: set[str] = set()
"""The roles this process's watchers served at some point (so that Ctrl-C can say what it left)."""


def alive(identity: str, host: str | None = None, own_pid: int | None = None) -> bool:
    """Whether a poller's identity (`PID@HOST`, the SDK's default) names a live process: on this host, a
    running process other than this one; on another host (or a custom identity), trusted as listed."""
    pid, _, where = identity.partition("@")
    if where != (host or socket.gethostname()) or not pid.isdigit():
        return True
    if int(pid) == (own_pid or os.getpid()):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie or a dead process polls nothing


async def pollers(client, queue: str, kinds: tuple[str, ...]) -> list[str]:
    """Identities of the pollers Temporal lists on `queue` for the task kinds ("workflow", "activity")."""
    types = {"workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY}
    found: list[str] = []
    for kind in kinds:
        response = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=types[kind]))
        found += [poller.identity for poller in response.pollers]
    return found


def queue_of(queues: TaskQueues, role: str) -> str:
    return queues.training if role == "training" else queues.orchestration


async def served(client, db_file: Path | str, queues: TaskQueues, roles: tuple[str, ...] = ROLES) -> set[str]:
    """The roles ("orchestration", "training") whose queue a live process other than this one serves."""
    kinds = {"orchestration": ("workflow", "activity"), "training": ("activity",)}
    found = set()
    for role in roles:
        queue = queue_of(queues, role)
        if locked_by_another(db_file, queue) or any(alive(p) for p in await pollers(client, queue, kinds[role])):
            found.add(role)
    return found


class Standby:
    """What a watcher serves: the roles its local workers took over (empty while others serve the run)."""

    def __init__(self) -> None:
        self.serving: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.serving)


@asynccontextmanager
async def standby(connection, queues: TaskQueues, max_concurrent_training: int,
                  confinement: Confinement | None, every_s: float = STANDBY_S) -> AsyncIterator[Standby]:
    """Serve the run's queues that nobody serves, now and whenever they stop being served, while the
    context is open; yields the `Standby` (decided once before the body runs)."""
    state = Standby()
    if not connection.embedded:
        yield state
        return
    client, db_file = connection.client, connection.server.db_file

    async with AsyncExitStack() as stack:

        async def take_over() -> None:
            missing = tuple(r for r in ROLES if r not in state.serving)
            taken = [r for r in missing if r not in await served(client, db_file, queues, missing)]
            if not taken:
                return
            stack.enter_context(serving_locks(db_file, [queue_of(queues, r) for r in taken]))
            from runner.worker import running_workers  # the workers' SDK and activities load once they serve

            await stack.enter_async_context(running_workers(
                client, queues, "all" if len(taken) == len(ROLES) else taken[0], max_concurrent_training,
                confinement=confinement))
            state.serving.update(taken)
            TAKEN_OVER.update(taken)

        async def keep_served() -> None:
            while len(state.serving) < len(ROLES):
                await asyncio.sleep(every_s)
                try:
                    await take_over()
                except Exception:  # noqa: BLE001 - the server restarting: look again next time
                    continue

        with contextlib.suppress(Exception):  # the server restarting: `keep_served` looks again
            await take_over()
        checking = asyncio.ensure_future(keep_served())
        try:
            yield state
        finally:
            checking.cancel()
            await asyncio.gather(checking, return_exceptions=True)
