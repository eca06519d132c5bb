"""Workers: exactly what each task queue registers, and the `train-tune worker` command.

Training queue: the `train` activity (CPU/GPU heavy). Orchestration queue: the workflows and the light
activities (dataset snapshots, evaluation, prediction).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.archive import archive_sweep_records, load_archived_trials
from activities.confinement import Confinement, grant_reads, looks_local
from activities.confinement_interceptor import ConfinementInterceptor
from activities.copy_checkpoint import copy_checkpoint
from activities.evaluate import evaluate, predict
from activities.private_files import make_private_dir
from activities.prune import prune_checkpoints
from activities.snapshot import snapshot_dataset
from activities.suggest import suggest
from activities.train import train
from runner.connect import announce, temporal_connection
from runner.quiet import adopt_library_loggers
from runner.serving_locks import serving_locks
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.specs import TaskQueues
from workflows.train_eval import TrainEvalWorkflow

WORKFLOWS = [TrainEvalWorkflow, CoordinatorWorkflow, LadderSweepWorkflow]
ORCHESTRATION_ACTIVITIES: list[Callable[..., Any]] = [snapshot_dataset, evaluate, predict, suggest, prune_checkpoints,
                                                     copy_checkpoint, archive_sweep_records, load_archived_trials]
TRAINING_ACTIVITIES = [train]

_GRACE = timedelta(seconds=10)
"""How long a shutting-down worker lets running activities finish (a training saves its checkpoint)."""

HEARTBEAT_THROTTLE = timedelta(seconds=5)
"""Trainings heartbeat at least this often (the SDK's default lets 0.8 x heartbeat_timeout pass): a
cancellation reaches a training, and its latest checkpoint reaches Temporal, within seconds."""

log = logging.getLogger(__name__)


def _interceptors(confinement: Confinement | None) -> list[ConfinementInterceptor]:
    return [ConfinementInterceptor(confinement)] if confinement else []


def training_worker(client: Client, queue: str, max_concurrent: int, grace: timedelta = _GRACE,
                    confinement: Confinement | None = None) -> Worker:
    """On shutdown, running trainings get `grace` to save a checkpoint and stop (`activities.train`)."""
    return Worker(
        client, task_queue=queue, activities=TRAINING_ACTIVITIES, max_concurrent_activities=max_concurrent,
        graceful_shutdown_timeout=grace, max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        interceptors=_interceptors(confinement),
    )


def orchestration_worker(client: Client, queue: str, executor: concurrent.futures.Executor,
                         confinement: Confinement | None = None) -> Worker:
    return Worker(
        client, task_queue=queue, workflows=WORKFLOWS, activities=ORCHESTRATION_ACTIVITIES,
        activity_executor=executor, max_concurrent_activities=2, graceful_shutdown_timeout=_GRACE,
        interceptors=_interceptors(confinement),
    )


TRAINING_LIBRARIES = ("torch", "lightning", "transformers", "activities.engine.fitting", "activities.checkpoints")
"""What the activities import lazily; a worker imports it before serving (`running_workers`)."""


def _load_training_libraries() -> None:
    for name in TRAINING_LIBRARIES:
        importlib.import_module(name)
    adopt_library_loggers()  # their own console handlers would print past the run's log file


@asynccontextmanager
async def running_workers(
    client: Client, queues: TaskQueues, serve: str = "all", max_concurrent_training: int = 1,
    grace: timedelta = _GRACE, confinement: Confinement | None = None,
) -> AsyncIterator[list[Worker]]:
    """Run the workers for `serve` ("all", "training" or "orchestration") while the context is open.

    `confinement`: what their activities may write, delete and read (`activities.confinement`); every
    command passes its run_root's. Only tests that start workers of their own leave it None (unchecked)."""
    # the activities import torch, Lightning and transformers lazily (the runner's watchers never load them);
    # a worker loads them before it polls, so no activity's first heartbeat waits seconds for an import
    await asyncio.to_thread(_load_training_libraries)
    async with AsyncExitStack() as stack:
        executor = stack.enter_context(concurrent.futures.ThreadPoolExecutor(max_workers=4))
        workers = []
        if serve in ("all", "orchestration"):
            workers.append(orchestration_worker(client, queues.orchestration, executor, confinement))
        if serve in ("all", "training"):
            workers.append(training_worker(client, queues.training, max_concurrent_training, grace, confinement))
        for worker in workers:
            await stack.enter_async_context(worker)
        yield workers


async def serve_until_signalled(
    client: Client, queues: TaskQueues, serve: str, max_concurrent_training: int, grace_s: float = 60.0,
    confinement: Confinement | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; then each running training saves a checkpoint and hands itself back to
    Temporal (within `grace_s`), and the worker exits."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_workers(client, queues, serve, max_concurrent_training, timedelta(seconds=grace_s),
                               confinement):
        log.info("worker serving %s (training=%s, orchestration=%s)", serve, queues.training, queues.orchestration)
        print(f"train-tune worker: serving {serve} queue(s) on {client.service_client.config.target_host}", flush=True)
        await stop.wait()
        print("train-tune worker: shutting down (running trainings save a checkpoint first)", flush=True)


def local_workers(connection, queues: TaskQueues, max_concurrent_training: int = 1,
                  confinement: Confinement | None = None) -> AbstractAsyncContextManager:
    """The embedded mode runs both queues' workers in this process, holding their serving locks (so that
    watchers leave the run to them, `runner.standby`); a remote cluster has its own."""
    if connection.embedded:
        return _serving_all(connection, queues, max_concurrent_training, confinement)
    return nullcontext()


@asynccontextmanager
async def _serving_all(connection, queues: TaskQueues, max_concurrent_training: int,
                       confinement: Confinement | None) -> AsyncIterator[list[Worker]]:
    with serving_locks(connection.server.db_file, [queues.orchestration, queues.training]):
        async with running_workers(connection.client, queues, "all", max_concurrent_training,
                                   confinement=confinement) as workers:
            yield workers


@asynccontextmanager
async def serving(temporal: dict, run_root: str, queues: TaskQueues, max_concurrent_training: int = 1,
                  readable: Iterable[str] = ()):
    """Connect (starting or finding the embedded server when no address is set), say where, and run the
    local workers while the context is open; yields the connection.

    The local workers are confined to `run_root` (created owner-only); they also read `readable`: the
    dataset and model files and folders of the runs this process resolved (`run_inputs`), recorded for the
    workers of other runners sharing the embedded server (`grant_reads`), and what those recorded."""
    if not temporal.get("address"):  # local workers: the run_root is theirs (a remote one may not be mounted here)
        make_private_dir(run_root)
        grant_reads(run_root, readable)
    confinement = Confinement.of(run_root, readable, grants=True)
    async with temporal_connection(temporal, run_root) as connection:
        announce(connection)
        async with local_workers(connection, queues, max_concurrent_training, confinement):
            yield connection


def run_inputs(*runs) -> list[str]:
    """The local files and folders the runs (`TrainEvalInput`s) read as input: dataset files or folder,
    local model and tokenizer folders; what the runner's embedded workers may read beside run_root."""
    found: list[str] = []
    for run in runs:
        dataset, model = run.dataset, run.model
        found += [path for path in dataset.data_files.values() if path]
        if dataset.path and (dataset.source != "hub" or looks_local(dataset.path)):
            found.append(dataset.path)
        found += [name for name in (model.name_or_path, model.tokenizer) if name and looks_local(name)]
    return found
