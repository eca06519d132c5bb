"""Ladder sweeps from the command line: resolve `ladder`/`search_space`/`sampler` into a
LadderSweepInput (validated before anything starts), run it, show its trial table, report the best."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.live import Live
from rich.table import Table

from activities.errors import ConfigError
from activities.suggest import validate_space
from runner.submit import console, poll_until_done
from workflows.ladder import LadderError, geometric_rungs, validate_rungs
from workflows.ladder_sweep import LadderSweepInput, LadderSweepResult, LadderSweepWorkflow, TrialState, apply_params
from workflows.specs import ParamSpec, SamplerSpec
from workflows.train_eval import TrainEvalInput

DIRECTIONS = ("minimize", "maximize")


def resolve_rungs(ladder: dict[str, Any], trainer_max_steps: int, val_every: int) -> list[int]:
    """Explicit `ladder.rungs`, else min_budget * eta^k up to max_budget (0: trainer.max_steps)."""
    if ladder["unit"] != "steps":
        raise ConfigError(f"ladder.unit is '{ladder['unit']}', but only 'steps' is supported so far")
    try:
        if ladder["rungs"]:
            rungs = [int(r) for r in ladder["rungs"]]
            validate_rungs(rungs, ladder["eta"])
        else:
            top = ladder["max_budget"] or trainer_max_steps
            rungs = [int(round(r)) for r in geometric_rungs(ladder["min_budget"], top, ladder["eta"])]
    except LadderError as error:
        raise ConfigError(str(error)) from error
    if rungs[-1] > trainer_max_steps:
        raise ConfigError(
            f"ladder top rung is {rungs[-1]} steps, but trainer.max_steps is {trainer_max_steps}; "
            f"raise trainer.max_steps or lower the rungs"
        )
    off = [r for r in rungs if r % val_every]
    if off:
        raise ConfigError(
            f"ladder rungs {off} are not multiples of trainer.val_every_n_steps ({val_every}); each rung "
            f"needs a validation at its end"
        )
    return rungs


def resolve_sweep(base: TrainEvalInput, plain: dict[str, Any]) -> LadderSweepInput:
    if plain["direction"] not in DIRECTIONS:
        raise ConfigError(f"direction is '{plain['direction']}', but must be one of: {', '.join(DIRECTIONS)}")
    if plain["n_trials"] < 1:
        raise ConfigError(f"n_trials is {plain['n_trials']}, but must be >= 1")
    space = [ParamSpec(**p) for p in plain["search_space"]["params"]]
    validate_space(space)
    try:
        apply_params(base, {p.key: (p.choices[0] if p.choices else p.low) for p in space})
    except ValueError as error:
        raise ConfigError(f"search_space.params: {error}") from error
    rungs = resolve_rungs(plain["ladder"], base.trainer.max_steps, base.trainer.val_every_n_steps)
    sampler = SamplerSpec(**plain["sampler"])
    return LadderSweepInput(
        name=plain["experiment_name"], base=base, space=space, sampler=sampler, n_trials=plain["n_trials"],
        rungs=rungs, eta=plain["ladder"]["eta"], direction=plain["direction"], parallelism=plain["parallelism"],
    )


def trial_table(trials: list[TrialState], rungs: list[int]) -> Table:
    table = Table(title=f"trials (rungs {rungs})", title_justify="left")
    for column in ("trial", "params", "state", *(f"@{r}" for r in rungs)):
        table.add_column(column)
    for t in trials:
        params = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(t.params.items()))
        metrics = [f"{m:.4f}" for m in t.metrics] + [""] * (len(rungs) - len(t.metrics))
        table.add_row(str(t.number), params, t.state + (f": {t.error[:50]}" if t.error else ""), *metrics)
    return table


async def watch_sweep(handle, rungs: list[int]) -> LadderSweepResult:
    """Refresh the trial table until the sweep ends (Ctrl-C stops watching, not the sweep)."""
    with Live(console=console, refresh_per_second=2) as live:
        result: LadderSweepResult = await poll_until_done(
            handle, LadderSweepWorkflow.trials, lambda trials: live.update(trial_table(trials, rungs))
        )
        live.update(trial_table(result.trials, rungs))
    return result


async def run_sweep(sweep: LadderSweepInput, plain: dict[str, Any], output_dir: Path) -> LadderSweepResult:
    from runner.worker import serving

    queues = sweep.base.queues
    async with serving(plain["temporal"], sweep.base.run_root, queues, sweep.parallelism) as connection:
        handle = await connection.client.start_workflow(
            LadderSweepWorkflow.run, sweep,
            id=f"{sweep.name}-sha-{sweep.base.config_hash[:10]}-{time.strftime('%Y%m%d-%H%M%S')}",
            task_queue=queues.orchestration,
            memo={"kind": "ladder_sweep", "config_hash": sweep.base.config_hash, "rungs": sweep.rungs},
        )
        console.print(f"started sweep {handle.id}: {sweep.n_trials} trials, rungs {sweep.rungs}", highlight=False)
        result = await watch_sweep(handle, sweep.rungs)
    report(handle.id, sweep, result, output_dir, plain)
    return result


def report(
    workflow_id: str, sweep: LadderSweepInput, result: LadderSweepResult, output_dir: Path, plain: dict[str, Any]
) -> None:
    for d in result.decisions:
        if d.kind in ("promote", "fail"):
            console.print(f"rung {d.rung}: {d.kind} trial {d.trial} ({d.detail})", highlight=False, markup=False)
    budget = sum(len([t for t in result.trials if t.rung >= k]) * (r - (sweep.rungs[k - 1] if k else 0))
                 for k, r in enumerate(sweep.rungs))
    console.print(f"steps trained: {result.total_steps} (ladder budget {budget}; without the ladder "
                  f"{sweep.n_trials * sweep.rungs[-1]})", highlight=False)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "sweep.json").write_text(json.dumps({"workflow_id": workflow_id, **asdict(result)}, indent=2))
    if result.best_trial < 0:
        console.print("no trial completed", highlight=False)
        return
    best = result.trials[result.best_trial]
    path = write_best_config(output_dir, workflow_id, plain, best, sweep.rungs[-1])
    console.print(f"best trial {best.number}: {best.params}  checkpoint {best.checkpoint}", highlight=False,
                  markup=False)
    console.print(f"sweep written to {output_dir / 'sweep.json'}", highlight=False)
    console.print(f"run the best config: train-tune --config-dir {path.parent} --config-name {path.stem}",
                  highlight=False)


def write_best_config(
    output_dir: Path, workflow_id: str, plain: dict[str, Any], best: TrialState, max_steps: int
) -> Path:
    """The resolved config with the best trial's parameters, as a primary config that runs as-is (no
    ladder, the full budget)."""
    from omegaconf import OmegaConf

    config = json.loads(json.dumps(plain))
    for key, value in best.params.items():
        section, _, name = key.partition(".")
        config[section][name] = value
    config["ladder"]["kind"] = "none"
    config["trainer"]["max_steps"] = max_steps
    config["experiment_name"] = f"{plain['experiment_name']}_best"
    body = OmegaConf.to_yaml(OmegaConf.create({"defaults": ["base_config", "_self_"], **config}))
    path = output_dir / "best_config.yaml"
    path.write_text(f"# best trial {best.number} of sweep {workflow_id}: {plain['trainer']['monitor']} "
                    f"{best.metrics[-1]:.4f}\n{body}")
    return path
