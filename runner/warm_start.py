"""`warm_start:` a sweep that starts from earlier sweeps' work. `from: [SWEEP_ID, ..]` names finished sweeps
on the same server: their finished trials whose parameters are a point of this sweep's search space go to
the sampler (`activities.suggest` adds them to the Optuna study with `study.add_trial`), the rest are
skipped and counted; with `reuse_checkpoints` (default true) a trial whose config one of them trained to a
rung's step copies that checkpoint instead of training (`workflows.checkpoint_reuse`).

The keys are checked at resolve time (`runner.sweep_start_config`); the earlier sweeps are read by the runner from
the server (each one's input and result, its archive merged back) before the sweep starts, and passed in
its input (`LadderSweepInput.warm_start`), so no worker reads outside its run root."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from runner.run_kinds import first_input
from runner.sweep_results import with_archive
from workflows.checkpoint_reuse import trial_digest
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.errors import ConfigError
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult
from workflows.payloads.warm_start import EarlierTrial
from workflows.proposals import learned
from workflows.sampler_history import sampler_window
from workflows.search_params import apply_params
from workflows.space_values import params_problem


def earlier_trials(sweep_id: str, earlier: LadderSweepInput, result: LadderSweepResult, sweep: LadderSweepInput,
                   reuse: bool, limit: int = 0) -> tuple[list[EarlierTrial], int, list[str]]:
    """(trials, skipped, notes): the earlier sweep's trials with a rung result whose parameters are a point
    of `sweep`'s space, at most `limit` (default `sampler.max_history`; the sampler's window: the best
    quarter and the most recent), so the sweep's input stays small; how many were skipped; and why its
    checkpoints cannot be reused, if so. Each trial's `digests` say which rung checkpoints may be reused
    (none when the run roots differ, the earlier result predates `snapshot_id`, or its checkpoints were
    deleted)."""
    notes = []
    if reuse and Path(earlier.base.run_root).resolve() != Path(sweep.base.run_root).resolve():
        notes.append(f"{sweep_id} ran under run_root {earlier.base.run_root}: its checkpoints are not reused")
        reuse = False
    elif reuse and not result.snapshot_id:
        notes.append(f"{sweep_id} recorded no dataset snapshot id (an older sweep): its checkpoints are not reused")
        reuse = False
    fitting, skipped = [], 0
    for trial in result.trials:
        if not trial.metrics:
            continue
        if params_problem(sweep.space, trial.params):
            skipped += 1
            continue
        fitting.append(EarlierTrial(
            sweep=sweep_id, number=trial.number, params=dict(trial.params),
            state="complete" if trial.state == "completed" else "pruned", rung_steps=list(trial.rung_steps),
            metrics=list(trial.metrics), rung_metrics=[dict(m) for m in trial.rung_metrics],
            digests=_digests(earlier, result, trial) if reuse else [], checkpoint_dir=trial.checkpoint_dir,
        ))
    window = {t.number for t in sampler_window([learned(t) for t in fitting], limit or sweep.sampler.max_history,
                                               earlier.direction)}
    return [t for t in fitting if t.number in window], skipped, notes


def _digests(earlier: LadderSweepInput, result: LadderSweepResult, trial: TrialState) -> list[str]:
    """Per rung the trial reached, the digest of the config that trained it; [] when its checkpoints are gone
    or a rung's LR schedule was not recorded."""
    if trial.checkpoints_pruned or not trial.checkpoint_dir or len(trial.schedule_steps) < len(trial.rung_steps):
        return []
    digests = []
    for schedule in trial.schedule_steps[:len(trial.rung_steps)]:
        if schedule <= 0:
            return []
        run = apply_params(earlier.base, trial.params)
        run.trainer.max_steps = schedule
        digests.append(trial_digest(run, result.snapshot_id))
    return digests


async def load_warm_start(client: Client, sweep: LadderSweepInput) -> None:
    """Fill `sweep.warm_start` (its sweeps named) with the earlier sweeps' trials, read from the server.

    Raises:
        ConfigError: an earlier sweep that is not a finished sweep of this server, or ranks another metric.
    """
    warm = sweep.warm_start
    if warm is None:
        return
    warm.trials, warm.skipped, warm.notes = [], 0, []
    for index, sweep_id in enumerate(warm.sweeps):
        where = f"warm_start.from[{index}] is '{sweep_id}'"
        try:
            description = await client.get_workflow_handle(sweep_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise ConfigError(f"{where}, but this server has no run of that id; `train-tune status` lists the "
                                  f"sweeps") from None
            raise
        if description.workflow_type != LadderSweepWorkflow.__name__:
            raise ConfigError(f"{where}, but that is a {description.workflow_type}, not a sweep")
        if description.status != WorkflowExecutionStatus.COMPLETED:
            raise ConfigError(f"{where}, but that sweep is {description.status.name if description.status else '?'}; "
                              f"a warm start reads finished (COMPLETED) sweeps")
        earlier = await first_input(client, sweep_id, LadderSweepInput)
        if (earlier.base.trainer.monitor, earlier.direction) != (sweep.base.trainer.monitor, sweep.direction):
            raise ConfigError(f"{where}, which ranked {earlier.base.trainer.monitor} ({earlier.direction}), but this "
                              f"sweep ranks {sweep.base.trainer.monitor} ({sweep.direction}); warm starts need the same")
        result = with_archive(await client.get_workflow_handle(sweep_id, result_type=LadderSweepResult).result())
        trials, skipped, notes = earlier_trials(sweep_id, earlier, result, sweep, warm.reuse_checkpoints,
                                                limit=max(1, sweep.sampler.max_history // len(warm.sweeps)))
        warm.trials += trials
        warm.skipped += skipped
        warm.notes += notes
