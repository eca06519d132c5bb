"""`train-tune results` of a run that is still running: answered at once from the workflow's state (its
queries), never by waiting for the run to end. The files (sweep.json, leaderboard, best_config.yaml, plots,
result.json) are written once it ends, by its runner or by `results` then."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from activities.archive import read_archive
from runner.submit import console, progress_line
from runner.sweep_watch import segment_progress, trial_table
from runner.terminal import show
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.sweep import LadderSweepResult
from workflows.ranking import leaderboard_order
from workflows.train_eval import TrainEvalWorkflow


async def sweep_so_far(handle, direction: str) -> LadderSweepResult:
    """The sweep's trials and decisions so far (those it archived included; a trial archived while it waits
    for a decision shows as waiting), its best trial so far, from its queries."""
    trials = await handle.query(LadderSweepWorkflow.trials)
    decisions = await handle.query(LadderSweepWorkflow.decision_log)
    archive = await handle.query(LadderSweepWorkflow.archive)
    if archive.parts:
        archived, older = read_archive(archive)
        merged = {t.number: t for t in archived} | {t.number: t for t in trials}
        trials, decisions = [merged[n] for n in sorted(merged)], [*older, *decisions]
    order = leaderboard_order(trials, direction)
    result = LadderSweepResult(trials=trials, decisions=decisions, best_trial=order[0] if order else -1,
                               total_steps=sum(t.steps_trained for t in trials))
    return replace(result, archive=archive)


async def show_running(handle, description, memo: dict[str, Any]) -> None:
    """Print what a running sweep or single run has so far, and that it is still running."""
    if description.workflow_type == LadderSweepWorkflow.__name__:
        direction = (memo.get("config") or {}).get("direction", "minimize")
        sweep = await sweep_so_far(handle, direction)
        try:
            progress = await segment_progress(handle)
        except Exception:  # noqa: BLE001 - progress is informative
            progress = {}
        show(trial_table(sweep.trials, progress))
        for decision in sweep.decisions:
            console.print(f"{decision.kind} trial {decision.trial} rung {decision.rung}: {decision.detail}",
                          highlight=False, markup=False)
        final = sum(t.state in ("completed", "stopped", "failed") for t in sweep.trials)
        best = f"best trial so far {sweep.best_trial}" if sweep.best_trial >= 0 else "no trial has finished a rung yet"
        console.print(f"{best}; {final} of {len(sweep.trials)} trials final", highlight=False)
    else:
        console.print(progress_line(await handle.query(TrainEvalWorkflow.status)), highlight=False, markup=False)
    console.print(f"{handle.id} is still running: these are its results so far; `train-tune results {handle.id}` "
                  f"once it ends writes its files", highlight=False)
