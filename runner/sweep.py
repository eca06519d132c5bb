"""Ladder sweeps from the command line: resolve `ladder`/`search_space`/`sampler` into a
LadderSweepInput (validated before anything starts), run it, show its trial table, report the best."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from rich.live import Live
from rich.table import Table

from activities.errors import ConfigError
from activities.suggest import validate_space
from runner.best_config import write_best_config
from runner.check_values import check_monitor, check_sampler, check_search_values
from runner.provenance import ConfigRepoState
from runner.resolve import validate_trial
from runner.search_attributes import run_labels
from runner.submit import console, poll_until_done
from runner.sweep_accounting import MARK, footnote, outcome_line, settle_parked, state_text, sweep_json_fields
from runner.sweep_view import print_summary, rung_cells, write_leaderboard
from workflows.accounting import mixed_steps
from workflows.ladder import (
    UNITS,
    LadderError,
    bracket_templates,
    deal_plan,
    geometric_rungs,
    validate_budgets,
    validate_rungs,
)
from workflows.ladder_sweep import (
    Decision,
    LadderSweepInput,
    LadderSweepResult,
    LadderSweepWorkflow,
    TrialState,
    leaderboard_order,
)
from workflows.specs import VALIDATION_METRICS, ParamSpec, SamplerSpec
from workflows.train_eval import TrainEvalInput

DIRECTIONS = ("minimize", "maximize")


def resolve_rungs(ladder: dict[str, Any], trainer_max_steps: int) -> list[float]:
    """Rung budgets in the ladder's unit: explicit `ladder.rungs`, else max_budget / eta^k down to
    min_budget (max_budget 0: trainer.max_steps, unit steps only); `none` has the one rung max_budget.
    Every error names the key, its value and what is valid."""
    unit, kind, eta = ladder["unit"], ladder["kind"], ladder["eta"]
    if unit not in UNITS:
        raise ConfigError(f"ladder.unit is '{unit}', but must be one of: {', '.join(UNITS)}")
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


def resolve_sweep(base: TrainEvalInput, plain: dict[str, Any]) -> LadderSweepInput:
    if plain["direction"] not in DIRECTIONS:
        raise ConfigError(f"direction is '{plain['direction']}', but must be one of: {', '.join(DIRECTIONS)}")
    check_monitor(base.trainer.monitor, base.trainer.monitor_mode, plain["direction"])
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
    check_search_values(base, space, lambda run: validate_trial(run, plain["temporal"]))
    rungs = resolve_rungs(ladder, base.trainer.max_steps)
    check_sampler(plain["sampler"], space)
    sampler = SamplerSpec(**plain["sampler"])
    if sampler.max_history < 100:
        raise ConfigError(f"sampler.max_history is {sampler.max_history}, but must be >= 100 (TPE's 25 best "
                          f"trials must stay in the window)")
    sweep = LadderSweepInput(
        name=plain["experiment_name"], base=base, space=space, sampler=sampler, n_trials=plain["n_trials"],
        rungs=rungs, eta=ladder["eta"], direction=plain["direction"], parallelism=plain["parallelism"],
        kind=ladder["kind"], unit=ladder["unit"], keep_checkpoints=ladder["keep_checkpoints"],
        max_history_events=ladder["continue_as_new_after_events"], archive_batch=ladder["archive_batch"],
    )
    if not 10 <= sweep.archive_batch <= 1000:
        raise ConfigError(f"ladder.archive_batch is {sweep.archive_batch}, but must be between 10 and 1000 (final "
                          f"trials leave the sweep's state for its archive in batches of this many)")
    fixed, per_trial = state_bytes(sweep)
    if per_trial:
        sweep.max_trials = (STATE_LIMIT_BYTES - fixed) // per_trial
    if fixed + per_trial * sweep.n_trials > STATE_LIMIT_BYTES:
        raise ConfigError(
            f"n_trials is {sweep.n_trials}, but this sweep can hold at most {sweep.max_trials} trials: final and "
            f"waiting trials leave its state for the archive, but a {sweep.kind} bracket keeps about {per_trial} "
            f"bytes per trial while it runs (the results its decisions rank), and the state must stay under "
            f"{STATE_LIMIT_BYTES:,} bytes; run several sweeps of at most {sweep.max_trials} trials")
    return sweep


STATE_LIMIT_BYTES = 1024 * 1024
"""The most a sweep's carried state (its continue-as-new input, its result) may take, by the runner's
estimate: half of Temporal's 2 MiB payload limit, leaving room for the estimate to be off."""
ARCHIVED_RESULT_BYTES = 30
"""An archived rung result the state keeps for ranking: a trial number and a float, encoded."""
PARKED_TRIAL_BYTES = 40
"""A parked trial's entry in the state (`Parked`): number, rung, result, archive part, target, encoded."""
QUEUED_TRIAL_BYTES = 8
"""A promoted trial's number in ordered asha's queue of results to apply at a rung (`BracketState.promoted`)."""


def state_bytes(sweep: LadderSweepInput) -> tuple[int, int]:
    """(fixed, per trial): the bytes a sweep's carried state takes at most, by the runner's estimate, as
    fixed + per_trial * n_trials. Trial records leave the state for the archive once final, or parked
    while they wait (at most archive_batch of them wait to go, beside `parallelism` running and the best
    few); what grows with n_trials is what a running bracket must remember: an entry per parked trial
    (sha's trials all wait at the first rung for its decision, asha's up to 1 - 1/eta of them) and, for
    asha, the best archived results per rung it ranks against and the promoted trials whose results wait to be
    applied in promotion order; hyperband's brackets are small, and a
    finished one keeps only its counts."""
    from temporalio.converter import DataConverter

    from workflows.ladder_sweep import HELD_LEADERS, BracketState, RungArchive

    held = sweep.archive_batch + sweep.parallelism + max(HELD_LEADERS, sweep.keep_checkpoints)
    fixed = 16 * 1024 + held * trial_state_bytes(sweep)  # 16 KiB: the input, the snapshot
    templates = bracket_templates(sweep.kind, sweep.rungs, sweep.eta, sweep.n_trials)
    if sweep.kind == "asha":
        return fixed, PARKED_TRIAL_BYTES + -(-(ARCHIVED_RESULT_BYTES + QUEUED_TRIAL_BYTES) * len(sweep.rungs) // sweep.eta)
    if sweep.kind == "sha" and len(sweep.rungs) > 1:
        return fixed, PARKED_TRIAL_BYTES
    # hyperband: a finished bracket keeps its rungs and counts, and brackets come round after round
    done = [BracketState(rungs=[10 ** 9] * len(rungs), size=size, decided=list(range(len(rungs))),
                         archived=[RungArchive(count=size)] * len(rungs), archived_trials=size)
            for rungs, size in templates]
    round_bytes = len(DataConverter.default.payload_converter.to_payloads([done])[0].data)
    if sweep.kind == "hyperband":
        return fixed, -(-round_bytes // sum(size for _, size in templates))
    return fixed + round_bytes, 0


def trial_state_bytes(sweep: LadderSweepInput) -> int:
    """Bytes one trial adds, on average, to the sweep's carried state as Temporal's converter encodes it.
    Synthetic trials of the sweep's shape: one value per searched key, a checkpoint path, and per rung
    reached a metric, step, resume step and two decisions; a share eta^-r of them reach rung r (all of them
    without a ladder). Measured as the difference between two such populations, divided by its size."""
    from temporalio.converter import DataConverter

    from workflows.ladder_sweep import SweepState

    rungs = max(len(r) for r, _ in bracket_templates(sweep.kind, sweep.rungs, sweep.eta, 1))
    eta = 1 if sweep.kind == "none" else sweep.eta
    unit = eta ** (rungs - 1)  # trials in one population: every rung's share is a whole number
    params: dict[str, Any] = {p.key: (max(p.choices, key=lambda c: len(repr(c))) if p.choices else 0.12345678901234567)
                              for p in sweep.space}
    folder = f"{sweep.base.run_root}/checkpoints/{sweep.name}-0123456789abcdef/trial{1000:05d}"
    detail = "val_loss 0.1235 at step 99999 (resumed from 99999); top 999 of 9999 go on to 99999 steps"

    def state(n: int) -> SweepState:
        trials, decisions = [], []
        for i in range(n):
            reached = next(r for r in range(rungs, 0, -1) if i % eta ** (r - 1) == 0)  # eta^-(r-1) reach r rungs
            trials.append(TrialState(
                number=1000 + i, params=params, state="completed", rung=reached - 1, metrics=[0.12345678901234567] * reached,
                checkpoint=f"{folder}/step{99999999:08d}.ckpt", steps_trained=99999, resumed_from_steps=[99999] * reached,
                target=reached - 1, rung_steps=[99999] * reached, checkpoint_dir=folder, reason="reached the top rung",
                rung_metrics=[dict.fromkeys(VALIDATION_METRICS, 0.1234567890123456)] * reached, best_checkpoint=folder + "/best"))
            decisions += [Decision(kind="rung_result", trial=1000 + i, rung=r, detail=detail) for r in range(2 * reached)]
            decisions.append(Decision(kind="propose", trial=1000 + i, rung=-1,
                                      detail=" ".join(f"{k}={v}" for k, v in params.items())))
        return SweepState(trials=trials, decisions=decisions)

    def size(n: int) -> int:
        return len(DataConverter.default.payload_converter.to_payloads([state(n)])[0].data)

    return -(-(size(2 * unit) - size(unit)) // unit)


def describe_plan(sweep: LadderSweepInput) -> str:
    """One line per bracket: its trials and rung budgets (in the ladder's unit)."""
    brackets = deal_plan(bracket_templates(sweep.kind, sweep.rungs, sweep.eta, sweep.n_trials), sweep.n_trials)
    return "; ".join(f"bracket {i}: {size} trials at rungs {[f'{r:g}' for r in rungs]} {sweep.unit}"
                     for i, (rungs, size) in enumerate(brackets))


def trial_table(trials: list[TrialState], progress: dict[int, str] | None = None, stopped: bool = False) -> Table:
    """One row per trial, one column per rung budget (in steps) any trial has reached (marked, with a
    footnote, where its results were trained under different LR schedules); `stopped`: the user stopped
    the sweep."""
    budgets = sorted({step for t in trials for step in t.rung_steps})
    mixed = mixed_steps(trials)
    table = Table(title="trials (validation metrics at each rung, by global step)", title_justify="left",
                  caption=footnote(mixed) or None, caption_justify="left")
    for column in ("trial", "params", "state", *(f"@{b}{MARK if b in mixed else ''}" for b in budgets)):
        table.add_column(column)
    for t in trials:
        params = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(t.params.items()))
        at = rung_cells(t)
        state = state_text(t, stopped) + (f" ({progress[t.number]})" if progress and t.number in progress else "")
        state += f": {t.error[:60]}" if t.error else ""
        table.add_row(str(t.number), params, state, *(at.get(b, "") for b in budgets))
    return table


async def segment_progress(handle) -> dict[int, str]:
    """'step S/T' of each running segment, read from its last heartbeat (segments do not signal)."""
    description = await handle.describe()
    converter = handle._client.data_converter
    progress: dict[int, str] = {}
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name != "train" or not pending.heartbeat_details.payloads:
            continue
        (details,) = await converter.decode(pending.heartbeat_details.payloads, [dict])
        folder = Path(details.get("checkpoint_dir") or "").name or Path(details.get("latest_checkpoint") or "").parent.name
        if folder.startswith("trial") and folder[5:].isdigit():
            progress[int(folder[5:])] = f"step {details.get('step')}/{details.get('max_steps')}"
    return progress


async def watch_sweep(handle) -> LadderSweepResult:
    """Refresh the trial table until the sweep ends (Ctrl-C stops watching, not the sweep)."""

    async def snapshot():
        trials = await handle.query(LadderSweepWorkflow.trials)
        try:
            progress = await segment_progress(handle)
        except Exception:  # noqa: BLE001 - progress is informative
            progress = {}
        return trials, progress

    with Live(console=console, refresh_per_second=2) as live:
        result: LadderSweepResult = await poll_until_done(
            handle, snapshot, lambda answer: live.update(trial_table(*answer))
        )
        live.update(trial_table(result.trials))
    return result


def sweep_identity(sweep: LadderSweepInput, plain: dict[str, Any], commit: str) -> dict[str, Any]:
    """What defines a sweep's decisions: the run config, the ladder, space, sampler, trial count,
    direction and parallelism (asha's order depends on it), the config repo's commit and, for local data
    files, their bytes."""
    keys = ("model", "dataset", "trainer", "optim", "seed", "ladder", "search_space", "sampler", "n_trials",
            "direction", "parallelism")
    identity = {**{key: plain.get(key) for key in keys}, "config_commit": commit}
    if sweep.base.dataset.source == "files":  # the data's bytes too (hashed once, into the base run's config_hash)
        identity["data"] = sweep.base.config_hash[:16]
    return identity


def sweep_id(sweep: LadderSweepInput, identity: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    return f"{sweep.name}-{sweep.kind}-{digest[:12]}"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (`ladder.eta`); lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        return {k: v for key in sorted(value) for k, v in flatten(value[key], f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def identity_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The keys whose values differ between two sweep identities, one line each (`  key: old -> new`);
    key order and unchanged keys do not show."""
    before, after = flatten(json.loads(json.dumps(old, default=str))), flatten(json.loads(json.dumps(new, default=str)))
    missing = "(not set)"
    return "\n".join(f"  {key}: {before.get(key, missing)} -> {after.get(key, missing)}"
                     for key in sorted(set(before) | set(after)) if before.get(key, missing) != after.get(key, missing))


async def existing_sweeps(client, name: str) -> list[tuple[str, dict[str, Any]]]:
    """(workflow id, identity) of the sweeps named `name` on this server, newest first."""
    found = []
    async for execution in client.list_workflows(f"WorkflowType = '{LadderSweepWorkflow.__name__}'"):
        memo = await execution.memo()
        if memo.get("name") == name:
            found.append((execution.id, memo.get("identity", {})))
    return found


async def run_sweep(
    sweep: LadderSweepInput, plain: dict[str, Any], output_dir: Path, repo: ConfigRepoState | None = None,
    new: bool = False,
) -> LadderSweepResult:
    """Run the sweep through the local workers (`attach_or_start`), follow it to its end and write its
    files; the files are written even when shutting the workers or the server down fails afterwards."""
    from runner.worker import run_inputs, serving

    queues = sweep.base.queues
    repo = repo or ConfigRepoState(path="")
    identity = sweep_identity(sweep, plain, repo.commit)
    workflow_id = sweep_id(sweep, identity)
    writing: list[asyncio.Future[None]] = []
    try:
        async with serving(plain["temporal"], sweep.base.run_root, queues, sweep.parallelism,
                           readable=run_inputs(sweep.base)) as connection:
            handle = await attach_or_start(connection.client, sweep, plain, output_dir, repo, identity,
                                           workflow_id, new)
            result = await watch_sweep(handle)
            # the files are written while the workers and the embedded server shut down (~1 s for the server)
            writing.append(asyncio.ensure_future(asyncio.to_thread(
                report, handle.id, sweep, result, output_dir, plain, asdict(repo))))
    finally:
        await asyncio.gather(*writing)  # written even when the shutdown fails; its error still propagates
    return result


async def attach_or_start(
    client, sweep: LadderSweepInput, plain: dict[str, Any], output_dir: Path, repo: ConfigRepoState,
    identity: dict[str, Any], workflow_id: str, new: bool,
):
    """The handle of the sweep of this identity (`workflow_id` and its fresh runs, runner/identity.py) while
    it runs or once it completed, else of a sweep started now; a different sweep under the same name is
    refused with the diff unless `new`."""
    from runner.identity import NEVER_REUSE, checkpoints_left
    from runner.identity import attach_or_start as one_per_identity

    async def refuse_changed() -> None:
        others = [(i, old) for i, old in await existing_sweeps(client, sweep.name) if sweep_id(sweep, old) != workflow_id]
        if others:
            other_id, old = others[0]
            raise ConfigError(
                f"a sweep named '{sweep.name}' already exists ({other_id}) with a different config; "
                f"rename experiment_name, or give --new to start this one anyway; it differs in:\n"
                f"{identity_diff(old, identity)}"
            )

    async def start(run_id: str):
        labels = await run_labels(client, repo, sweep.name, sweep.base.config_hash, sweep.base.model.name,
                                  sweep.base.dataset.name)
        sweep.base.upsert_best_metric = labels.upsert_best_metric
        handle = await client.start_workflow(
            LadderSweepWorkflow.run, sweep, id=run_id, task_queue=sweep.base.queues.orchestration,
            result_type=LadderSweepResult, id_reuse_policy=NEVER_REUSE,
            memo={"kind": "ladder_sweep", "name": sweep.name, "identity": identity, "config": plain,
                  "config_hash": sweep.base.config_hash, "parallelism": sweep.parallelism,
                  "output_dir": str(output_dir), **labels.memo},
            search_attributes=labels.search_attributes,
        )
        console.print(f"started sweep {handle.id}: {describe_plan(sweep)}", highlight=False)
        return handle

    attachment = await one_per_identity(client, workflow_id, start, "sweep", new, LadderSweepResult, refuse_changed,
                                        lambda run_id: checkpoints_left(sweep.base.run_root, run_id))
    return attachment.handle


def with_archive(result: LadderSweepResult) -> LadderSweepResult:
    """The sweep's result with the trials and decisions it archived put back: every trial (its latest
    record), every decision in order."""
    from activities.archive import read_archive

    if not result.archive.parts:
        return result
    trials, decisions = read_archive(result.archive)
    decisions = [*decisions, *result.decisions]
    settle_parked([t for t in trials if t.state == "waiting"], decisions, result.stopped_by_user)
    merged = {t.number: t for t in trials} | {t.number: t for t in result.trials}
    return replace(result, trials=[merged[n] for n in sorted(merged)], decisions=decisions)


def report(
    workflow_id: str, sweep: LadderSweepInput, result: LadderSweepResult, output_dir: Path, plain: dict[str, Any],
    config_repo: dict | None = None,
) -> None:
    result = with_archive(result)
    for d in result.decisions:
        if d.kind in ("promote", "fail"):
            console.print(f"rung {d.rung}: {d.kind} trial {d.trial} ({d.detail})", highlight=False, markup=False)
    full = max((row.budget_steps for row in result.rungs), default=0) * len(result.trials)
    console.print(outcome_line(result), highlight=False, markup=False)
    console.print(f"steps trained: {result.total_steps} (every trial to the top rung: {full})", highlight=False)
    if footnote(mixed_steps(result.trials)):
        console.print(footnote(mixed_steps(result.trials)), highlight=False, markup=False)
    write_sweep_files(output_dir, workflow_id, result, plain, config_repo)
    if result.best_trial < 0:
        console.print("no trial finished a rung", highlight=False)
        return
    print_summary(result, plain["direction"], plain["trainer"]["monitor"])
    console.print(f"sweep written to {output_dir} (sweep.json, leaderboard.csv, plots/)", highlight=False)
    path = output_dir / "best_config.yaml"
    console.print(f"run the best config: train-tune --config-dir {path.parent} --config-name {path.stem}",
                  highlight=False)


def write_sweep_files(output_dir: Path, workflow_id: str, result: LadderSweepResult, plain: dict[str, Any],
                      config_repo: dict | None = None) -> None:
    """sweep.json (trials, rungs, decision log, where the config came from), leaderboard.csv,
    best_config.yaml and the plots."""
    from runner.plots import write_plots

    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "sweep.json").write_text(json.dumps({"workflow_id": workflow_id, "config_repo": config_repo or {},
                                                      **sweep_json_fields(result), **asdict(result)}, indent=2))
    order = leaderboard_order(result.trials, plain["direction"])
    by_number = {t.number: t for t in result.trials}
    write_leaderboard(output_dir / "leaderboard.csv", result, order, plain["trainer"]["monitor"])
    write_plots(output_dir / "plots", result, plain["direction"], plain["trainer"]["monitor"])
    if result.best_trial >= 0:
        best = by_number[result.best_trial]
        write_best_config(output_dir, workflow_id, plain, best, config_repo)
