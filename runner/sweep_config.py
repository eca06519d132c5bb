"""A ladder sweep's config: resolve `ladder`/`search_space`/`sampler` into a LadderSweepInput, validated
before anything starts (every error names the key, its value and what is valid)."""

from __future__ import annotations

from typing import Any

from activities.suggest import validate_space
from runner.budget_config import refuse_outside_sweep as refuse_budget
from runner.budget_config import resolve_budget
from runner.check_training_options import check_sweep_options
from runner.check_values import check_monitor, check_sampler, check_search_values
from runner.objectives_config import refuse_outside_sweep as refuse_objectives
from runner.objectives_config import resolve_objectives
from runner.pbt_config import pbt_plan
from runner.probe_config import refuse_outside_sweep as refuse_probe
from runner.probe_config import resolve_probe
from runner.resolve import validate_trial
from runner.sweep_size import STATE_LIMIT_BYTES, pbt_boundaries, state_bytes
from runner.sweep_start_config import refuse_outside_sweep as refuse_sweep_start
from runner.sweep_start_config import resolve_enqueue, warm_start_config
from workflows.ladder import LadderError, geometric_rungs, validate_budgets, validate_rungs
from workflows.payloads.choices import LADDER_UNITS
from workflows.payloads.errors import ConfigError
from workflows.payloads.runs import TrainEvalInput
from workflows.payloads.specs import ModelSpec, ParamSpec, SamplerSpec
from workflows.payloads.sweep import LadderSweepInput
from workflows.ranking import DIRECTIONS
from workflows.schedulers.mo_ranking import ranks_by_pareto
from workflows.search_params import MODEL_KEY


def is_sweep(plain: dict[str, Any]) -> bool:
    """A config is a ladder sweep when it names a ladder kind or searches any parameter."""
    return plain["ladder"]["kind"] != "none" or bool((plain.get("search_space") or {}).get("params"))


def refuse_sweep_keys(plain: dict[str, Any], what: str) -> None:
    """Keys that steer a sweep (`budget`, `enqueue`, `warm_start.from`, `ladder.probe_trials`) in a config that runs no sweep
    (`what`: what it runs instead) are refused, not ignored: one line naming the first."""
    refuse_budget(plain, what)
    refuse_sweep_start(plain, what)
    refuse_objectives(plain, what)
    refuse_probe(plain, what)


def resolve_rungs(ladder: dict[str, Any], trainer_max_steps: int) -> list[float]:
    """Rung budgets in the ladder's unit: explicit `ladder.rungs`, else max_budget / eta^k down to
    min_budget (max_budget 0: trainer.max_steps, unit steps only); `none` has the one rung max_budget.
    Every error names the key, its value and what is valid."""
    unit, kind, eta = ladder["unit"], ladder["kind"], ladder["eta"]
    if unit not in LADDER_UNITS:
        raise ConfigError(f"ladder.unit is '{unit}', but must be one of: {', '.join(LADDER_UNITS)}")
    top = ladder["max_budget"] or (trainer_max_steps if unit == "steps" else 0)
    if not top and not ladder["rungs"]:
        raise ConfigError(f"ladder.max_budget is {ladder['max_budget']}, but unit '{unit}' needs it set (> 0) "
                          f"or explicit ladder.rungs")
    try:
        if ladder["rungs"]:
            rungs = [float(r) for r in ladder["rungs"]]
            validate_rungs(rungs, eta)
        elif kind == "none":
            validate_budgets(top, top, max(eta, 2))
            rungs = [float(top)]
        else:
            rungs = geometric_rungs(ladder["min_budget"], top, eta)
            if kind == "hyperband":
                rungs = [rungs[0], rungs[-1]]
    except LadderError as error:
        raise ConfigError(str(error)) from error
    if unit == "steps":
        if any(r != int(r) for r in rungs) and ladder["rungs"]:
            raise ConfigError(f"ladder.rungs is {ladder['rungs']}, but rungs in steps must be whole numbers")
        rungs = [float(int(round(r))) for r in rungs]
        if rungs[-1] > trainer_max_steps:
            raise ConfigError(
                f"ladder top rung is {rungs[-1]:g} steps, but trainer.max_steps is {trainer_max_steps}; "
                f"raise trainer.max_steps or lower the rungs"
            )
    if unit == "fraction" and rungs[-1] > 1:
        raise ConfigError(f"ladder top rung is {rungs[-1]:g}, but a fraction of the training data must be <= 1")
    return rungs


def resolve_sweep(base: TrainEvalInput, plain: dict[str, Any],
                  models: dict[str, ModelSpec] | None = None) -> LadderSweepInput:
    """The sweep's input, checked (`models`: a `model` search parameter's resolved choices,
    `runner.model_choices.resolve_model_choices`)."""
    if plain["direction"] not in DIRECTIONS:
        raise ConfigError(f"direction is '{plain['direction']}', but must be one of: {', '.join(DIRECTIONS)}")
    check_monitor(base.trainer.monitor, base.trainer.monitor_mode, plain["direction"], base.dataset.task.name)
    if plain["n_trials"] < 1:
        raise ConfigError(f"n_trials is {plain['n_trials']}, but must be >= 1")
    if plain["parallelism"] < 1:
        raise ConfigError(f"parallelism is {plain['parallelism']}, but must be >= 1")
    ladder = plain["ladder"]
    if ladder["continue_as_new_after_events"] < 200:
        raise ConfigError(f"ladder.continue_as_new_after_events is {ladder['continue_as_new_after_events']}, "
                          f"but must be >= 200 (Temporal's limit is 51,200; 10,240 warns)")
    space = [ParamSpec(**p) for p in (plain.get("search_space") or {}).get("params", [])]
    if not space:
        raise ConfigError("search_space.params is empty, but a ladder sweep needs at least one parameter; "
                          "pick one with search_space=lr_warmup or list params")
    validate_space(space)
    models = models or {}
    unresolved = [c for p in space if p.key == MODEL_KEY for c in p.choices if c not in models]
    if unresolved:
        raise ConfigError(f"search_space.params.model has choice {unresolved[0]!r}, which was not resolved as a "
                          f"model option (resolved: {', '.join(models) or 'none'})")
    check_search_values(base, space, lambda run: validate_trial(run, plain["temporal"]), models)
    check_sweep_options(ladder["kind"], ladder["unit"], base.trainer, space)
    pbt = None
    if ladder["kind"] == "pbt":  # the population is the sweep's trials; its boundaries are the rungs
        rungs, pbt = pbt_plan(ladder, base.trainer.max_steps, space)
        plain = {**plain, "n_trials": pbt.population}
    else:
        rungs = resolve_rungs(ladder, base.trainer.max_steps)
    objectives, constraints = resolve_objectives(plain, base)
    check_sampler(plain["sampler"], space)
    sampler = SamplerSpec(**plain["sampler"])
    if sampler.max_history < 100:
        raise ConfigError(f"sampler.max_history is {sampler.max_history}, but must be >= 100 (TPE's 25 best "
                          f"trials must stay in the window)")
    sweep = LadderSweepInput(
        name=plain["experiment_name"], base=base, space=space, sampler=sampler, n_trials=plain["n_trials"],
        rungs=rungs, eta=ladder["eta"], direction=plain["direction"], parallelism=plain["parallelism"],
        kind=ladder["kind"], unit=ladder["unit"], keep_checkpoints=ladder["keep_checkpoints"],
        max_history_events=ladder["continue_as_new_after_events"], archive_batch=ladder["archive_batch"], pbt=pbt,
        budget=resolve_budget(plain), models=models, objectives=objectives, constraints=constraints,
    )
    if not 10 <= sweep.archive_batch <= 1000:
        raise ConfigError(f"ladder.archive_batch is {sweep.archive_batch}, but must be between 10 and 1000 (final "
                          f"trials leave the sweep's state for its archive in batches of this many)")
    resolve_probe(ladder, sweep)
    sweep.enqueue = resolve_enqueue(plain.get("enqueue") or [], space, sweep.n_trials)
    sweep.warm_start = warm_start_config(plain.get("warm_start"))
    fixed, per_trial = state_bytes(sweep)
    if per_trial:
        sweep.max_trials = (STATE_LIMIT_BYTES - fixed) // per_trial
    if pbt is not None and len(rungs) > pbt_boundaries(sweep):
        raise ConfigError(
            f"ladder.population is {pbt.population} with {len(rungs)} boundaries (trainer.max_steps / "
            f"ladder.perturbation_interval), but the sweep's state keeps every member's record with an entry per "
            f"boundary and must stay under {STATE_LIMIT_BYTES:,} bytes: at most {pbt_boundaries(sweep)} boundaries "
            f"for this population; use a larger ladder.perturbation_interval or a smaller population")
    if fixed + per_trial * sweep.n_trials > STATE_LIMIT_BYTES and ranks_by_pareto(sweep):
        raise ConfigError(
            f"n_trials is {sweep.n_trials}, but this sweep can hold at most {sweep.max_trials} trials: a sweep with "
            f"objectives or constraints keeps every trial's record in its state (its decisions rank their objective "
            f"vectors, which the archive does not keep), about {per_trial} bytes each, and the state must stay under "
            f"{STATE_LIMIT_BYTES:,} bytes; run several sweeps of at most {sweep.max_trials} trials")
    if fixed + per_trial * sweep.n_trials > STATE_LIMIT_BYTES:
        raise ConfigError(
            f"n_trials is {sweep.n_trials}, but this sweep can hold at most {sweep.max_trials} trials: final and "
            f"waiting trials leave its state for the archive, but a {sweep.kind} bracket keeps about {per_trial} "
            f"bytes per trial while it runs (the results its decisions rank), and the state must stay under "
            f"{STATE_LIMIT_BYTES:,} bytes; run several sweeps of at most {sweep.max_trials} trials")
    return sweep

