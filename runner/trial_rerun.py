"""`train-tune rerun SWEEP_ID --trial N|best`: one trial of a ladder sweep trained again as a single run.

The run is the one the trial's best_config.yaml would hold (`runner.best_config.trial_run` owns the rule: a
population-based training member's weights' schedule, replayed in segments, or another trial's parameters,
under the LR schedule its recorded segment had), built from the sweep's recorded input (`first_input`, as
`rerun` of a whole run) and its trial records (its result once it completed, else its `trials` query; the
archived ones merged back as `results` merges them). It is followed as `rerun` of a single run is, and says
whether it reproduced the trial's recorded metric (`runner.best_config.origin_line`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowExecutionStatus

from runner.best_config import TrialRun, best_config, weight_sources
from runner.provenance import ConfigRepoState
from runner.resolve import config_hash, data_fingerprint
from runner.run_kinds import TRAIN_EVAL, first_input
from runner.run_memo import memo_config
from runner.running_results import sweep_so_far
from runner.submit import console, start_run
from runner.sweep_results import with_archive
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.records import TrialState
from workflows.payloads.runs import ScheduledParams, TrainEvalInput
from workflows.payloads.specs import ModelSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult
from workflows.search_params import apply_params

BEST = "best"
"""`--trial best`: the sweep's best trial (so far, while it runs)."""


def trial_argument(text: str) -> int | str:
    """`--trial`'s value: a trial number or `best`; LookupError (exit 2) for anything else."""
    if text == BEST:
        return BEST
    if text.isascii() and text.isdigit():
        return int(text)
    raise LookupError(f"--trial is '{text}', but must be a trial number (0, 1, ...) or {BEST}")


def refuse_non_sweep(workflow_id: str, workflow_type: str, trial: int | str) -> None:
    """`--trial` picks a trial of a ladder sweep: refused (exit 2) for any other run."""
    if workflow_type != LadderSweepWorkflow.__name__:
        raise LookupError(f"--trial is {trial}, but {workflow_id} is a {workflow_type}; --trial picks a trial of a "
                          f"ladder sweep ({LadderSweepWorkflow.__name__}): drop it to rerun the whole run")


def spans(numbers: list[int]) -> str:
    """`0-7, 9, 12-20`: sorted numbers as runs of consecutive ones."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def chosen_trial(sweep_id: str, result: LadderSweepResult, wanted: int | str) -> TrialState:
    """The trial `--trial` names (`best`: the result's best trial); LookupError (exit 2) naming the value and
    the trials that can be rerun (those that reached a rung: a run reproduces a rung's result) if none."""
    by_number = {t.number: t for t in result.trials}
    reached = [t.number for t in result.trials if t.rung_steps]
    valid = f"{BEST} or a trial that reached a rung: {spans(reached)}"
    if wanted == BEST:
        if result.best_trial not in by_number or not by_number[result.best_trial].rung_steps:
            raise LookupError(f"--trial is {BEST}, but no trial of sweep {sweep_id} has reached a rung yet: there is "
                              f"no result to reproduce")
        return by_number[result.best_trial]
    trial = by_number.get(int(wanted))
    if trial is None:
        raise LookupError(f"--trial is {wanted}, but sweep {sweep_id} has no trial {wanted}"
                          f"{f' (trials {spans(list(by_number))})' if by_number else ''}; valid: "
                          f"{valid if reached else 'none yet: no trial has reached a rung'}")
    if not trial.rung_steps:
        raise LookupError(f"--trial is {wanted}, but trial {wanted} of sweep {sweep_id} never reached a rung "
                          f"({trial.state}): there is no result to reproduce; valid: "
                          f"{valid if reached else 'none yet: no trial has reached a rung'}")
    return trial


async def sweep_records(handle, description, direction: str) -> LadderSweepResult:
    """Every trial of the sweep, archived ones included: its result once it completed, else its state."""
    if description.status == WorkflowExecutionStatus.COMPLETED:
        return with_archive(await handle.result())
    return await sweep_so_far(handle, direction)


def trial_input(base: TrainEvalInput, run: TrialRun, config: dict[str, Any],
                models: dict[str, ModelSpec] | None = None) -> TrainEvalInput:
    """The sweep's base run as `run` trains it (`config`: best_config.yaml's resolved config of it, whose
    experiment name and identity it takes, so it is the run that file starts; `models`: the sweep's searched
    model choices)."""
    trial = apply_params(base, run.params, models)
    trial.trainer.max_steps = run.max_steps
    trial.trainer.val_every_n_steps = run.validation_interval(trial.trainer.val_every_n_steps)
    trial.schedule = [ScheduledParams(step=e["step"], params=dict(e["params"])) for e in run.schedule]
    trial.experiment = config["experiment_name"]
    trial.snapshot, trial.job_index = None, -1
    try:
        data = data_fingerprint(trial.dataset)
    except OSError as error:
        raise LookupError(f"dataset.data_files cannot be read here ({error}); the rerun's identity hashes them, as "
                          f"a run of best_config.yaml does: run it where the sweep's data files are") from None
    trial.config_hash = config_hash(config, data)
    return trial


def what_it_trains(run: TrialRun, trials: dict[int, TrialState]) -> str:
    """One line: the parameters (a PBT member's weights' schedule) and steps the run trains."""
    params = " ".join(f"{key}={value}" for key, value in run.params.items())
    if run.pbt:
        segments = len(run.schedule) + 1
        trained = (f"the schedule population-based training member {run.trial}'s weights were trained under "
                   f"({weight_sources(trials, trials[run.trial])}; {segments} segment{'s' if segments > 1 else ''}), "
                   f"from {params}")
    else:
        trained = params or "the sweep's config"
    return f"{trained}; {run.max_steps} steps, validated at step {run.step}"


async def rerun_trial(client, sweep_handle, description, memo: dict[str, Any], wanted: int | str,
                      out_arg: str | None) -> None:
    """Start trial `wanted` of the sweep again as a single run, and follow it as `rerun` follows one."""
    refuse_non_sweep(sweep_handle.id, description.workflow_type, wanted)
    sweep: LadderSweepInput = await first_input(client, sweep_handle.id, LadderSweepInput)
    plain = memo_config(memo)
    records = await sweep_records(sweep_handle, description, sweep.direction)
    trial = chosen_trial(sweep_handle.id, records, wanted)
    trials = {t.number: t for t in records.trials}
    config, run = best_config(sweep_handle.id, plain, trial, memo.get("config_repo"), trials)
    if trial.number != records.best_trial:
        config["origin"]["best"] = False  # its origin line names it a trial's config, not the best one's
    run_input = trial_input(sweep.base, run, config, sweep.models)
    new_id = f"{sweep_handle.id}-trial{trial.number}-rerun-{time.strftime('%Y%m%d-%H%M%S')}"
    out = Path(out_arg or Path("outputs") / new_id)
    recorded = dict(memo.get("config_repo") or {})  # the sweep's: its best_config.yaml names it too
    repo = ConfigRepoState(path=recorded.get("path", ""), commit=recorded.get("commit", ""),
                           dirty=bool(recorded.get("dirty")))
    extra = {"output_dir": str(out), "rerun_of": sweep_handle.id, "trial": trial.number}
    handle = await start_run(client, run_input, config, new_id, repo, memo=extra)
    console.print(f"rerunning trial {trial.number} of {sweep_handle.id} as {handle.id} (config commit "
                  f"{repo.commit or 'not recorded'}{' dirty' if repo.dirty else ''}): {what_it_trains(run, trials)}",
                  highlight=False, markup=False, soft_wrap=True)
    await TRAIN_EVAL.rerun_follow(handle, run_input, out, {**extra, "config": config}, recorded)
