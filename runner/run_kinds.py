"""What each kind of run does under the commands (`runner.commands`), one row per workflow type: how
`status` shows it, what `results` writes, whether `cancel --job` and the sweep commands apply, and how a
`rerun` is followed. The commands look their run's kind up here instead of branching on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from runner.best_config import origin_line, origin_of
from runner.budget_view import budget_line
from runner.coordinate import leaderboard, print_leaderboard, status_table, watch, write_leaderboard
from runner.exit_codes import check_outcome, check_status
from runner.optuna_study import StudySource, coordinator_study, sweep_study
from runner.pareto_view import leader_order, print_front
from runner.run_memo import memo_config
from runner.running_results import sweep_so_far
from runner.status_summary import coordinator_summary, sweep_summary
from runner.submit import console, follow, print_result, write_result
from runner.sweep_accounting import outcome_line
from runner.sweep_results import noise_lines, report, with_archive, write_sweep_files
from runner.sweep_view import params_texts, print_summary
from runner.sweep_watch import probe_choice, segment_progress, trial_table, watch_sweep
from runner.terminal import say, show
from runner.warm_view import warm_lines
from workflows.budget import active as has_budget
from workflows.coordinator import CoordinatorWorkflow
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.runs import CoordinatorInput, CoordinatorStatus, TrainEvalInput, TrainEvalResult
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult
from workflows.train_eval import TrainEvalWorkflow


@dataclass(frozen=True)
class RunKind:
    """One kind of run (a workflow type) as the commands treat it."""

    workflow: type
    """The workflow class (its name is the workflow type)."""
    input_type: type
    """What the workflow starts with (`rerun` decodes it from the first run's history)."""
    result_type: type
    """What the workflow returns (the handle decodes it)."""
    status: Callable[[WorkflowHandle, Any, bool], Awaitable[None]]
    """`status`: (handle, description, once) -> follow it while it runs, else show where it stands."""
    results: Callable[[WorkflowHandle, Any, dict[str, Any], Path], Awaitable[Any]]
    """`results`: (handle, description, memo, out) -> print and write its results; returns them."""
    rerun_follow: Callable[[WorkflowHandle, Any, Path, dict[str, Any], dict[str, Any]], Awaitable[None]]
    """`rerun`: (handle, run input, out, memo, recorded config repo) -> follow the new run, write its files."""
    results_while_running: bool = False
    """`results` reads it while it runs (a coordinator's finished jobs); else it shows the running state."""
    has_jobs: bool = False
    """`cancel --job N` acts on one of its jobs."""
    steerable: bool = False
    """`pause`, `resume`, `stop [--trial N]` and `extend` act on it."""
    sets_output_dir: bool = False
    """Its input names its output folder (a rerun writes to the new one)."""
    state: Callable[[WorkflowHandle, Any], Awaitable[str]] | None = None
    """The state `status` names (None: Temporal's execution status), e.g. PAUSED for a paused sweep."""
    study: Callable[[Any, WorkflowHandle, dict[str, Any]], Awaitable[StudySource]] | None = None
    """`results --optuna-storage`: (client, handle, memo) -> how it becomes an Optuna study (None: it does not)."""

    async def state_name(self, handle: WorkflowHandle, description) -> str:
        """What `status` calls the run's state: its own word where Temporal's says less."""
        return await self.state(handle, description) if self.state else description.status.name


async def first_input(client, workflow_id: str, input_type: type) -> Any:
    """The input the workflow was started with: that of its first run (later runs of a continued-as-new
    sweep carry its state)."""
    return (await first_start(client, workflow_id, input_type))[0]


async def first_start(client, workflow_id: str, input_type: type) -> tuple[Any, datetime]:
    """(`first_input`, when its first run started), from the first event of each history (a long sweep's
    histories are thousands of events)."""
    latest = await _first_event(client.get_workflow_handle(workflow_id))
    first_run = latest.workflow_execution_started_event_attributes.first_execution_run_id
    started = await _first_event(client.get_workflow_handle(workflow_id, run_id=first_run or None))
    payloads = started.workflow_execution_started_event_attributes.input.payloads
    (value,) = await client.data_converter.decode(payloads, [input_type])
    return value, started.event_time.ToDatetime(UTC)


async def _first_event(handle: WorkflowHandle):
    async for event in handle.fetch_history_events(page_size=1):
        return event
    raise LookupError(f"workflow {handle.id} has no history")


async def job_runs(client, workflow_id: str) -> dict[int, Any]:
    """Each job's resolved run, from a coordinator's input (for its HTML report)."""
    return {job.index: asdict(job.run) for job in (await first_input(client, workflow_id, CoordinatorInput)).jobs}


async def final_or_current(handle: WorkflowHandle, description) -> CoordinatorStatus:
    if description.status == WorkflowExecutionStatus.COMPLETED:
        return await handle.result()
    return await handle.query(CoordinatorWorkflow.status)


# --- a single run (TrainEvalWorkflow) ---

async def _run_status(handle: WorkflowHandle, description, once: bool) -> None:
    print_result(handle.id, await follow(handle))  # its live view ends when it does, so --once changes nothing


async def _run_results(handle: WorkflowHandle, description, memo: dict[str, Any], out: Path) -> Any:
    result = await handle.result()
    print_result(handle.id, result)
    return result


async def _run_rerun(handle: WorkflowHandle, run_input: Any, out: Path, memo: dict[str, Any],
                     recorded: dict[str, Any]) -> None:
    single = await follow(handle)
    print_result(handle.id, single)
    origin = origin_of(memo.get("config") or {})  # a sweep's trial (best_config.yaml, `rerun --trial`)
    if origin:
        console.print(origin_line(origin, single.train.global_step, single.train.final_score), highlight=False,
                      markup=False, soft_wrap=True)
    console.print(f"result written to {write_result(out, handle.id, single, recorded, origin)}", highlight=False)


# --- a multirun (CoordinatorWorkflow) ---

async def _coordinator_status(handle: WorkflowHandle, description, once: bool) -> None:
    if description.status == WorkflowExecutionStatus.RUNNING and not once:
        check_outcome(handle.id, await watch(handle))
        return
    status = await final_or_current(handle, description)
    show(status_table(status))
    say(coordinator_summary(status, description.start_time, datetime.now(UTC)))
    check_status(handle.id, description.status.name)
    if description.status != WorkflowExecutionStatus.RUNNING:
        check_outcome(handle.id, status)  # exit 1 when a job failed


async def _coordinator_results(handle: WorkflowHandle, description, memo: dict[str, Any], out: Path) -> Any:
    result = await final_or_current(handle, description)
    print_leaderboard(leaderboard(result))
    csv_path, json_path = write_leaderboard(out, handle.id, result, memo.get("config_repo"))
    console.print(f"leaderboard written to {csv_path} and {json_path}", highlight=False)
    return result


async def _coordinator_rerun(handle: WorkflowHandle, run_input: Any, out: Path, memo: dict[str, Any],
                             recorded: dict[str, Any]) -> None:
    status = await watch(handle)
    print_leaderboard(leaderboard(status))
    csv_path, _ = write_leaderboard(out, handle.id, status, recorded)
    console.print(f"leaderboard written to {csv_path} (and .json)", highlight=False)
    check_outcome(handle.id, status)


async def _coordinator_study(client, handle: WorkflowHandle, memo: dict[str, Any]) -> StudySource:
    async def current() -> CoordinatorStatus:
        return await final_or_current(handle, await handle.describe())

    return StudySource(current, lambda result, status: coordinator_study(handle.id, result, status))


# --- a ladder sweep (LadderSweepWorkflow) ---

async def _sweep_status(handle: WorkflowHandle, description, once: bool) -> None:
    if description.status == WorkflowExecutionStatus.RUNNING and not once:
        check_outcome(handle.id, await watch_sweep(handle, *await first_start(handle._client, handle.id,
                                                                              LadderSweepInput)))
        return
    trials = await handle.query(LadderSweepWorkflow.trials)
    running = await segment_progress(handle) if description.status == WorkflowExecutionStatus.RUNNING else {}
    show(trial_table(trials, running))  # each running segment with its step
    archive = await handle.query(LadderSweepWorkflow.archive)
    sweep, started = await first_start(handle._client, handle.id, LadderSweepInput)  # the handle's client
    say(sweep_summary(trials, sweep, started, datetime.now(UTC), archive.trials, running,
                      await probe_choice(handle, sweep)))
    if sweep is not None and has_budget(sweep.budget):  # what the sweep used of its budget
        say(budget_line(sweep.budget, await handle.query(LadderSweepWorkflow.budget_used)))
    for line in warm_lines(trials, await handle.query(LadderSweepWorkflow.decision_log)):
        say(line)
    if archive.trials:
        parked = await handle.query(LadderSweepWorkflow.parked)
        say(f"and more trials archived in {archive.folder} ({archive.trials} records; {len(parked)} of them "
            f"waiting for a decision: {parked[:20]}); `train-tune results {handle.id}` lists every trial once the "
            f"sweep ends")
    check_status(handle.id, description.status.name)  # exit 1: the sweep failed ...
    if description.status == WorkflowExecutionStatus.COMPLETED:
        swept = await handle.result()
        console.print(outcome_line(swept), highlight=False)  # completed its plan, or stopped
        check_outcome(handle.id, swept)  # ... or every trial of it did


async def _sweep_state(handle: WorkflowHandle, description) -> str:
    if description.status == WorkflowExecutionStatus.RUNNING and await handle.query(LadderSweepWorkflow.is_paused):
        return "PAUSED"
    return description.status.name


async def _sweep_results(handle: WorkflowHandle, description, memo: dict[str, Any], out: Path) -> Any:
    sweep = with_archive(await handle.result())
    show(trial_table(sweep.trials, stopped=sweep.stopped))
    for decision in sweep.decisions:
        console.print(f"{decision.kind} trial {decision.trial} rung {decision.rung}: {decision.detail}",
                      highlight=False, markup=False)
    for line in warm_lines(sweep.trials, sweep.decisions):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"{outcome_line(sweep)}; best trial {sweep.best_trial}", highlight=False)
    if budget_line(sweep.budget, sweep.budget_used):
        console.print(budget_line(sweep.budget, sweep.budget_used), highlight=False, markup=False)
    config = memo_config(memo)
    for line in noise_lines(sweep, config):  # rungs whose promotions were close to random
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    print_summary(sweep, config["direction"], config["trainer"]["monitor"], leader_order(sweep.trials, config))
    print_front(sweep, config, params_texts(sweep.trials))  # several objectives: their Pareto front
    write_sweep_files(out, handle.id, sweep, config, memo.get("config_repo"))
    console.print(f"sweep.json, leaderboard.csv, best_config.yaml and plots/ written to {out}", highlight=False)
    return sweep


async def _sweep_rerun(handle: WorkflowHandle, run_input: Any, out: Path, memo: dict[str, Any],
                       recorded: dict[str, Any]) -> None:
    swept = await watch_sweep(handle, run_input, (await handle.describe()).start_time)
    report(handle.id, swept, out, memo_config(memo), recorded)
    check_outcome(handle.id, swept)


async def _sweep_study(client, handle: WorkflowHandle, memo: dict[str, Any]) -> StudySource:
    space = (await first_input(client, handle.id, LadderSweepInput)).space  # the space the sampler drew from
    direction, monitor = memo["config"]["direction"], memo["config"]["trainer"]["monitor"]

    async def current() -> LadderSweepResult:
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            return await sweep_so_far(handle, direction)
        return with_archive(await handle.result())

    return StudySource(current, lambda result, status: sweep_study(handle.id, result, space, direction, monitor, status))


TRAIN_EVAL = RunKind(TrainEvalWorkflow, TrainEvalInput, TrainEvalResult, _run_status, _run_results, _run_rerun)
RUN_KINDS = (
    TRAIN_EVAL,
    RunKind(CoordinatorWorkflow, CoordinatorInput, CoordinatorStatus, _coordinator_status, _coordinator_results,
            _coordinator_rerun, results_while_running=True, has_jobs=True, sets_output_dir=True,
            study=_coordinator_study),
    RunKind(LadderSweepWorkflow, LadderSweepInput, LadderSweepResult, _sweep_status, _sweep_results, _sweep_rerun,
            steerable=True, state=_sweep_state, study=_sweep_study),
)
RUN_KINDS_BY_TYPE = {kind.workflow.__name__: kind for kind in RUN_KINDS}
"""Every kind, by workflow type; a type not here is treated as a single run (`kind_of`), but not rerun."""


def kind_of(description) -> RunKind:
    """The kind of the described workflow (a single run's for a type no row names, as before kinds had rows)."""
    return RUN_KINDS_BY_TYPE.get(description.workflow_type, TRAIN_EVAL)
