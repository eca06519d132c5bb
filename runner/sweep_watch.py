"""Following a running sweep in the terminal: its plan, its trial table and each running segment's step."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from temporalio.client import WorkflowQueryFailedError

from runner.budget_view import budget_line
from runner.pbt_view import is_pbt, lineage_text
from runner.status_summary import sweep_summary
from runner.submit import console, poll_until_done
from runner.sweep_accounting import MARK, footnote, state_text
from runner.sweep_view import params_texts, rung_cells
from runner.terminal import fit, show
from workflows.accounting import mixed_steps
from workflows.budget import active as has_budget
from workflows.ladder import bracket_templates, deal_plan
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.layout import trial_of_folder
from workflows.payloads.budget import BudgetUsed
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult
from workflows.schedulers.rung_probe import probe_budgets


def describe_plan(sweep: LadderSweepInput) -> str:
    """One line per bracket: its trials and rung budgets (in the ladder's unit); with a rung probe, the
    probe's bracket and what follows it (`workflows.schedulers.rung_probe`)."""
    if sweep.probe_trials:
        rest = sweep.n_trials - sweep.probe_trials
        return (f"rung probe: trials 0-{sweep.probe_trials - 1} to the top of rungs "
                f"{[f'{r:g}' for r in probe_budgets(sweep)]} {sweep.unit} unpruned; then {rest} trials in {sweep.kind} "
                f"brackets from the first rung that ranks them as the top does (Spearman >= {sweep.probe_agreement:g})")
    brackets = deal_plan(bracket_templates(sweep.kind, sweep.rungs, sweep.eta, sweep.n_trials), sweep.n_trials)
    return "; ".join(f"bracket {i}: {size} trials at rungs {[f'{r:g}' for r in rungs]} {sweep.unit}"
                     for i, (rungs, size) in enumerate(brackets))


async def probe_choice(handle, sweep: LadderSweepInput | None) -> int:
    """The rung its probe started the sweep's ladder at (`LadderSweepWorkflow.probe`); -1 while the probe
    runs, without one (not asked), or where the workers serving the sweep run code from before the query."""
    if sweep is None or not sweep.probe_trials:
        return -1
    try:
        probe = await handle.query(LadderSweepWorkflow.probe)
    except WorkflowQueryFailedError:  # an older worker: the plan counts from the first rung
        return -1
    return probe.first_rung if probe is not None else -1


def trial_table(trials: list[TrialState], progress: dict[int, str] | None = None, stopped: bool = False) -> Table:
    """One row per trial (a PBT member's lineage beside its parameters), one column per rung budget (in
    steps) any trial has reached (marked, with a footnote, where its results were trained under different
    LR schedules); `stopped`: the user stopped the sweep."""
    budgets = sorted({step for t in trials for step in t.rung_steps})
    mixed = mixed_steps(trials)
    table = Table(title="trials (validation metrics at each rung, by global step)", title_justify="left",
                  caption=footnote(mixed) or None, caption_justify="left")
    pbt = is_pbt(trials)  # a population-based training member's lineage beside its current parameters
    for column in ("trial", "params", *(["lineage"] if pbt else []), "state",
                   *(f"@{b}{MARK if b in mixed else ''}" for b in budgets)):
        table.add_column(column, no_wrap=column in ("trial", "params", "lineage"))
    params = params_texts(trials)
    for t in trials:
        at = rung_cells(t)
        state = state_text(t, stopped) + (f" ({progress[t.number]})" if progress and t.number in progress else "")
        state += f": {t.error[:60]}" if t.error else ""
        table.add_row(str(t.number), params[t.number], *([lineage_text(t)] if pbt else []), state,
                      *(at.get(b, "") for b in budgets))
    return table


async def segment_progress(handle) -> dict[int, str]:
    """'step S/T' of each running segment, read from its last heartbeat (segments do not signal); empty
    when the server cannot say (progress is informative)."""
    try:
        return await _segment_progress(handle)
    except Exception:  # noqa: BLE001 - progress is informative: the table shows without it
        return {}


async def _segment_progress(handle) -> dict[int, str]:
    description = await handle.describe()
    converter = handle._client.data_converter
    progress: dict[int, str] = {}
    for pending in description.raw_description.pending_activities:
        if pending.activity_type.name != "train" or not pending.heartbeat_details.payloads:
            continue
        (details,) = await converter.decode(pending.heartbeat_details.payloads, [dict])
        folder = Path(details.get("checkpoint_dir") or "").name or Path(details.get("latest_checkpoint") or "").parent.name
        number = trial_of_folder(folder)
        if number is not None:
            progress[number] = f"step {details.get('step')}/{details.get('max_steps')}"
    return progress


async def watch_sweep(handle, sweep: LadderSweepInput | None = None, started: datetime | None = None
                      ) -> LadderSweepResult:
    """Refresh the trial table and its summary line (`sweep`: its plan, `started`: its first run's start,
    for the budget and the ETA) until the sweep ends (Ctrl-C stops watching, not the sweep)."""

    budgeted = sweep is not None and has_budget(sweep.budget)

    chosen = -1  # the probe's choice is fixed once made: not asked again

    async def snapshot():
        nonlocal chosen
        used = await handle.query(LadderSweepWorkflow.budget_used) if budgeted else None
        chosen = chosen if chosen >= 0 else await probe_choice(handle, sweep)
        return await handle.query(LadderSweepWorkflow.trials), await segment_progress(handle), used, chosen

    def view(trials: list[TrialState], progress: dict[int, str] | None = None, used: BudgetUsed | None = None,
             first_rung: int = -1) -> Group:
        line = sweep_summary(trials, sweep, started, datetime.now(UTC), progress=progress, first_rung=first_rung)
        if sweep is not None and used is not None:  # what the sweep used of its budget
            line += "\n" + budget_line(sweep.budget, used)
        return Group(fit(trial_table(trials, progress)), Text(line))

    if not console.is_terminal:  # piped: no live redraws (rich would crop them), the final table whole
        result: LadderSweepResult = await poll_until_done(handle, snapshot, lambda answer: None)
        show(trial_table(result.trials))
        return result
    with Live(console=console, refresh_per_second=2) as live:
        result = await poll_until_done(handle, snapshot, lambda answer: live.update(view(*answer)))
        live.update(fit(trial_table(result.trials)))
    return result

