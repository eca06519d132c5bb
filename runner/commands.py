"""`train-tune status|results|cancel <workflow-id>`: act on a run or coordinator from any process.

Connection keys are those of `train-tune worker` (`temporal.address=...`, `run_root=...`). With the
embedded server (no address) the command starts or finds the server of `run_root` and runs the local
workers while it is attached, so a sweep whose runner was killed continues while it is watched.

What serving a run (Temporal's workers, the activities) or drawing its report needs is imported where
that happens, so a command against a cluster, or `--help`, loads Temporal's client and no more.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.archive import ArchiveError
from activities.confinement import Confinement
from activities.shared_storage import configure_storage
from runner.connect import announce, temporal_connection
from runner.exit_codes import NotFound, check_outcome, check_status
from runner.export import USAGE as EXPORT_USAGE
from runner.export import add_arguments as add_export_arguments
from runner.export import export_command, predict_command
from runner.interrupt import LEAVE_S, SERVING_LEAVE_S, bound_interrupt
from runner.optuna_results import add_arguments as add_study_arguments
from runner.optuna_results import checked_target, follow_study, study_source, write_once
from runner.run_kinds import RUN_KINDS_BY_TYPE, first_input, job_runs, kind_of
from runner.run_memo import compact_memo, full_memo, memo_config
from runner.running_results import show_running
from runner.standby import TAKEN_OVER, standby
from runner.submit import console
from runner.trial_rerun import rerun_trial, trial_argument
from workflows.coordinator import CoordinatorWorkflow, failure_message
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.runs import ENDED
from workflows.payloads.specs import TaskQueues
from workflows.payloads.sweep import ExtendRequest

USAGE = """train-tune rerun   WORKFLOW_ID [--out DIR] [KEY=VALUE ...]  start that run's exact resolved config again
       train-tune rerun   SWEEP_ID --trial N|best [--out DIR] [KEY=VALUE ...]  that trial as a single run (best_config)
       train-tune status  WORKFLOW_ID [--once] [KEY=VALUE ...] live table until done (Ctrl-C stops watching)
       train-tune results WORKFLOW_ID [--out DIR] [--html] [--pick N] [KEY=VALUE ...]  leaderboard (CSV, JSON; report)
                         [--optuna-storage study.log|study.db [--follow]]   also as an Optuna study (optuna-dashboard)
       train-tune cancel  WORKFLOW_ID [--job N] [KEY=VALUE ...]    cancel one job, or the whole run
       train-tune pause|resume SWEEP_ID [KEY=VALUE ...]            hold / release new training segments
       train-tune stop SWEEP_ID [--trial N] [KEY=VALUE ...]        stop one trial, or stop after the running rung
       train-tune extend SWEEP_ID [--trials N] [--rungs B1,B2] [KEY=VALUE ...]  more trials and/or higher rungs
""" + EXPORT_USAGE + """
KEY=VALUE: connection settings as for `train-tune worker` (temporal=remote temporal.address=..., run_root=...)."""


def parse(command: str, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"train-tune {command}", usage=USAGE)
    parser.add_argument("workflow_id")
    parser.add_argument("overrides", nargs="*", help="connection settings, KEY=VALUE")
    if command == "status":
        parser.add_argument("--once", action="store_true", help="print the table once instead of refreshing")
    if command == "cancel":
        parser.add_argument("--job", type=int, default=None, help="cancel only this job of a coordinator")
    if command == "stop":
        parser.add_argument("--trial", type=int, default=None, help="stop only this trial of a sweep")
    if command == "extend":
        parser.add_argument("--trials", type=int, default=0, help="trials to add")
        parser.add_argument("--rungs", default="", help="rung budgets to add above the top, in the ladder's unit")
    if command == "rerun":
        parser.add_argument("--trial", default=None, help="rerun this trial of a sweep (a number, or best) as a single run")
    if command in ("results", "rerun"):
        parser.add_argument("--out", default=None, help="folder for leaderboard.csv/json (default: the sweep's)")
    if command in ("export", "predict"):
        add_export_arguments(parser, command)
    if command == "results":
        parser.add_argument("--html", action="store_true", help="also write a self-contained report.html")
        parser.add_argument("--pick", default=None, help="a multi-objective sweep: write Pareto front point N's "
                            "config (N from the front table, or 'weighted') as front_N_config.yaml")
        add_study_arguments(parser)
    return parser.parse_intermixed_args(argv)


@asynccontextmanager
async def attached(connection_config: dict[str, Any], run_root: str, workflow_id: str, serve: bool = True):
    """Connect; for the embedded server also run the local workers (sized by the run's parallelism).

    With `serve=False` (commands that only signal) local workers run only when this process started the
    server, since then no one else serves the run."""
    async with attached_client(connection_config, run_root, workflow_id, serve) as (_, *found):
        yield tuple(found)


@asynccontextmanager
async def attached_client(connection_config: dict[str, Any], run_root: str, workflow_id: str, serve: bool = True):
    """`attached`, also yielding the client first (for commands that start workflows). Its last item says
    whether this process serves the run (it runs the workers of a queue nobody else serves: `standby`)."""
    temporal = connection_config["temporal"]
    async with temporal_connection(temporal, run_root) as connection:
        announce(connection)
        handle, description, memo = await described(connection.client, workflow_id)
        queues = run_queues(temporal, description, memo)
        owns_workers = bool(connection.server and connection.server.started_here)
        confinement = Confinement.of(run_root, connection_config.get("data_dirs") or (), grants=True)
        parallelism = int(memo.get("parallelism", 1))
        workers: AbstractAsyncContextManager[Any] = nullcontext()
        if serve:
            workers = standby(connection, queues, parallelism, confinement)
        elif owns_workers:
            from runner.worker import local_workers  # the workers' SDK and activities load only to serve

            workers = local_workers(connection, queues, parallelism, confinement)
        async with workers as serving:
            yield connection.client, handle, description, memo, bool(serving)


def run_queues(temporal: dict[str, Any], description, memo: dict[str, Any]) -> TaskQueues:
    """The run's task queues: its workflow's, and the training queue its config named (else this one's)."""
    named = (memo.get("config") or {}).get("temporal") or {}
    return TaskQueues(training=named.get("training_queue") or temporal["training_queue"],
                      orchestration=description.task_queue or temporal["orchestration_queue"])


async def described(client, workflow_id: str):
    """The handle (typed by the workflow's kind), its description and its memo; NotFound (exit 3) if none."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no workflow '{workflow_id}' on {client.service_client.config.target_host}") from None
        raise LookupError(f"no workflow '{workflow_id}' on {client.service_client.config.target_host}: "
                          f"{error}") from error
    result_type = kind_of(description).result_type
    return client.get_workflow_handle(workflow_id, result_type=result_type), description, full_memo(await description.memo())


async def status_command(args, config, run_root) -> None:
    async with attached(config, run_root, args.workflow_id) as (handle, description, memo, __):
        kind = kind_of(description)
        console.print(f"{description.workflow_type} {handle.id}: {await kind.state_name(handle, description)}",
                      highlight=False)
        await kind.status(handle, description, args.once)


async def results_command(args, config, run_root) -> None:
    target = checked_target(args)  # a bad --optuna-storage is refused before anything connects
    async with attached_client(config, run_root, args.workflow_id) as (client, handle, described_, memo, _):
        kind = kind_of(described_)
        source = await study_source(kind, client, handle, described_, memo) if target else None
        if source and target and args.follow and described_.status == WorkflowExecutionStatus.RUNNING:
            await follow_study(handle, source, target)
        description = await handle.describe() if args.follow else described_  # as it ended, when followed
        if description.status == WorkflowExecutionStatus.RUNNING and not kind.results_while_running:
            await show_running(handle, description, memo)  # at once, from its state: it has no result yet
            if source and target:
                write_once(target, source.content(await source.current(), description.status.name))
            return
        out = Path(args.out or memo.get("output_dir") or ".")
        result = await kind.results(handle, description, memo, out)
        if source and target:
            write_once(target, source.content(result, description.status.name))  # its archive merged
        if args.html:
            from runner.report import write_report  # its plots

            jobs = await job_runs(client, handle.id) if kind.has_jobs else {}
            path = write_report(out / "report.html", handle.id, description.workflow_type, description.status.name,
                                memo, result, jobs)
            console.print(f"report written to {path}", highlight=False)
        if args.pick and kind.workflow is LadderSweepWorkflow:
            from runner.pareto_view import write_pick

            path = write_pick(out, handle.id, result, memo_config(memo), args.pick, memo.get("config_repo"))
            console.print(f"run front point {args.pick}: train-tune --config-dir {path.parent} --config-name {path.stem}",
                          highlight=False)
        check_status(handle.id, description.status.name)
        if description.status != WorkflowExecutionStatus.RUNNING:
            check_outcome(handle.id, result)  # exit 1: every trial of a sweep, or a job of a multirun, failed


async def cancel_command(args, config, run_root) -> None:
    async with attached(config, run_root, args.workflow_id) as (handle, description, _, owns_workers):
        wait_for: Callable[[], Awaitable[bool]]
        if args.job is None:
            await handle.cancel()
            console.print(f"cancellation of {handle.id} requested", highlight=False)
            wait_for = partial(_ended, handle)
        else:
            if not kind_of(description).has_jobs:
                raise LookupError(f"{handle.id} is a {description.workflow_type}, which has no jobs; drop --job")
            await handle.signal(CoordinatorWorkflow.cancel_job, args.job)
            console.print(f"cancellation of job {args.job} of {handle.id} requested", highlight=False)
            wait_for = partial(_job_ended, handle, args.job)
        if not owns_workers:
            return  # the runner (or cluster) that serves this run carries the cancellation out
        # this process started the embedded server: keep its workers up until the training has saved
        # its checkpoint and stopped
        for _ in range(240):
            if await wait_for():
                break
            await asyncio.sleep(0.5)
        console.print(await _ending(handle, args.job), highlight=False)


async def _ending(handle: WorkflowHandle, job: int | None) -> str:
    """How a cancelled run or job ended: a cancel that landed after the training's last step keeps its
    evaluation and ends completed (`workflows.train_eval`), which the user must not read as cancelled."""
    if job is None:
        status = (await handle.describe()).status
        state = status.name.lower().replace("canceled", "cancelled") if status else "cancelled"
    else:
        state = await _job_state(handle, job) or "cancelled"
    if state == "completed":
        return "completed: the cancel landed after the training's last step, so its evaluation was kept"
    return state


async def _ended(handle: WorkflowHandle) -> bool:
    return (await handle.describe()).status != WorkflowExecutionStatus.RUNNING


async def _job_state(handle: WorkflowHandle, index: int) -> str:
    """Job `index`'s state in a coordinator's status ('' when it has no such job)."""
    return next((job.state for job in (await handle.query(CoordinatorWorkflow.status)).jobs if job.index == index), "")


async def _job_ended(handle: WorkflowHandle, index: int) -> bool:
    return await _job_state(handle, index) in ENDED


async def sweep_signal_command(args, config, run_root, signal_name: str) -> None:
    async with attached(config, run_root, args.workflow_id, serve=False) as (handle, description, _, __):
        if not kind_of(description).steerable:
            raise LookupError(f"{handle.id} is a {description.workflow_type}; {signal_name} acts on ladder sweeps")
        if signal_name == "stop" and getattr(args, "trial", None) is not None:
            numbers = [t.number for t in await handle.query(LadderSweepWorkflow.trials)]
            numbers = sorted({*numbers, *await handle.query(LadderSweepWorkflow.parked)})
            if args.trial not in numbers:
                raise LookupError(f"--trial is {args.trial}, but sweep {handle.id} can stop trials {numbers} (the "
                                  f"others are final)")
            await handle.signal(LadderSweepWorkflow.stop_trial, args.trial)
            console.print(f"stop of trial {args.trial} of {handle.id} requested", highlight=False)
            return
        await handle.signal(signal_name)
        console.print(f"{signal_name} sent to {handle.id}", highlight=False)


async def extend_command(args, config, run_root) -> None:
    """Send the `extend` update; the workflow validates it and answers (or says why it refuses)."""
    try:
        rungs = [float(r) for r in args.rungs.split(",") if r.strip()]
    except ValueError as error:
        raise LookupError(f"--rungs is '{args.rungs}', but must be comma-separated numbers, e.g. 540,1620") from error
    async with attached(config, run_root, args.workflow_id, serve=False) as (handle, description, _, __):
        if not kind_of(description).steerable:
            raise LookupError(f"{handle.id} is a {description.workflow_type}; extend acts on ladder sweeps")
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise LookupError(f"sweep {handle.id} is {description.status.name}; only a running sweep can be extended")
        try:
            answer = await handle.execute_update(LadderSweepWorkflow.extend, ExtendRequest(trials=args.trials,
                                                                                           rungs=rungs))
        except WorkflowUpdateFailedError as error:
            raise LookupError(f"extend refused: {error.cause}") from error
        console.print(f"{handle.id}: {answer}", highlight=False)


async def pause_command(args, config, run_root) -> None:
    await sweep_signal_command(args, config, run_root, "pause")


async def resume_command(args, config, run_root) -> None:
    await sweep_signal_command(args, config, run_root, "resume")


async def stop_command(args, config, run_root) -> None:
    await sweep_signal_command(args, config, run_root, "stop")


async def rerun_command(args, config, run_root) -> None:
    """Start the exact resolved config of an earlier run again, as a new workflow, and follow it.

    The new run gets the earlier one's workflow input (its first run's, for a sweep that continued as
    new), memo and search attributes, with `rerun_of` added: so it records the config commit of the
    original, not of whatever is checked out now. Fresh checkpoints (they live under the workflow id);
    the dataset snapshot is reused when its content is unchanged. With `--trial`, one trial of a sweep as a
    single run (`runner.trial_rerun`)."""
    trial = trial_argument(args.trial) if args.trial is not None else None  # a bad value is refused unconnected
    async with attached_client(config, run_root, args.workflow_id) as (client, original, description, memo, _):
        if trial is not None:
            await rerun_trial(client, original, description, memo, trial, args.out)
            return
        if description.workflow_type not in RUN_KINDS_BY_TYPE:
            raise LookupError(f"{original.id} is a {description.workflow_type}; rerun starts "
                              f"{', '.join(RUN_KINDS_BY_TYPE)} runs")
        kind = RUN_KINDS_BY_TYPE[description.workflow_type]
        run_input = await first_input(client, original.id, kind.input_type)
        new_id = f"{original.id}-rerun-{time.strftime('%Y%m%d-%H%M%S')}"
        out = Path(args.out or Path("outputs") / new_id)
        if kind.sets_output_dir:
            run_input.output_dir = str(out)
        handle: WorkflowHandle[Any, Any] = await client.start_workflow(
            kind.workflow.run,  # type: ignore[attr-defined]  # each kind's workflow class has its run method
            run_input, id=new_id, task_queue=description.task_queue, result_type=kind.result_type,
            memo=compact_memo({**memo, "output_dir": str(out), "rerun_of": original.id}, run_root),
            search_attributes=description.typed_search_attributes,
            static_summary=f"rerun of {original.id}",
        )
        recorded = memo.get("config_repo") or {}
        console.print(f"rerunning {original.id} as {handle.id} (config commit "
                      f"{recorded.get('commit') or 'not recorded'}{' dirty' if recorded.get('dirty') else ''})",
                      highlight=False)
        await kind.rerun_follow(handle, run_input, out, memo, recorded)


COMMANDS = {
    "rerun": rerun_command,
    "status": status_command, "results": results_command, "cancel": cancel_command,
    "pause": pause_command, "resume": resume_command, "stop": stop_command, "extend": extend_command,
    "export": export_command, "predict": predict_command,
}


def run_command(command: str, argv: list[str], compose_connection) -> None:
    """Parse, compose the connection config from KEY=VALUE overrides, run; Ctrl-C only stops watching."""
    args = parse(command, argv)
    config = compose_connection(args.overrides)
    run_root = str(Path(config["run_root"]).expanduser().resolve())
    configure_storage(config["storage"]["uri"], run_root, config["storage"]["endpoint_url"])

    def left() -> str:
        served = (f" once a process serves it again (e.g. `train-tune status {args.workflow_id}`): this one served "
                  f"it, and its trainings stopped at a checkpoint") if TAKEN_OVER else ""
        return f"stopped watching; the run goes on{served}"

    async def bounded() -> None:  # Ctrl-C leaves within a bounded time, whatever the clean-up waits on
        bound_interrupt(lambda: SERVING_LEAVE_S if "training" in TAKEN_OVER else LEAVE_S, left,
                        Path(run_root) / "logs" / f"{command}-{os.getpid()}-stacks-at-ctrl-c.txt")
        await COMMANDS[command](args, config, run_root)

    try:
        asyncio.run(bounded())
    except KeyboardInterrupt:
        console.print(left(), highlight=False, markup=False)
    except WorkflowFailureError as error:  # the run failed: its root cause (a damaged archive part names it)
        console.print(f"{args.workflow_id} ended {failure_message(error)}", highlight=False, markup=False)
        raise SystemExit(1) from None
    except ArchiveError as error:  # a finished sweep whose archive part is missing or damaged
        console.print(f"error: {error}", highlight=False, markup=False, soft_wrap=True)
        raise SystemExit(1) from None
