"""Honest accounting in LadderSweepWorkflow: what a user stop leaves of a trial, and which LR schedule each
rung result was trained under, and what it records.

- A `stop_trial` cancels a running segment; the segment hands back what it trained (`TrainRequest.
  result_on_cancel`). Stopped between rungs, the trial keeps its steps and its checkpoint (`keep_partial`);
  stopped after its rung's last step, its rung result counts and it stops there (`after_result`).
- A segment's LR schedule spans its bracket's top rung, which `extend --rungs` raises: results at one rung
  may then come from different schedules (warmup and decay differ). Each rung result records its schedule
  (`TrialState.schedule_steps`), and the sweep logs when a rung's ranking starts to mix schedules.

Pure state changes on the workflow's records: safe in workflow code (no I/O, no clock).
"""

from __future__ import annotations

from typing import Any

from workflows.payloads.messages import TrainResult
from workflows.payloads.records import Decision, TrialState

PATCH = "honest-accounting"
"""`workflow.patched` id: sweeps started before it replay without these records and decisions."""
MIXED = "mixed_schedules"
"""Decision kind: a ranking from here on compares results trained under different LR schedules."""


def schedule_id(trial: TrialState, rung: int) -> str:
    """The LR schedules the trial's result at `rung` was trained under: the schedule totals (steps) of its
    segments up to that rung, consecutive repeats once, joined by '>' ('90'; '30>90' for a trial trained to
    rung 0 under a 30-step schedule, then extended); '' where not recorded."""
    steps = trial.schedule_steps[:rung + 1]
    if len(steps) <= rung or 0 in steps:
        return ""
    distinct: list[int] = []
    for s in steps:
        if not distinct or distinct[-1] != s:
            distinct.append(s)
    return ">".join(str(s) for s in distinct)


def mixed_steps(trials: list[TrialState]) -> dict[int, list[str]]:
    """By rung step (global step), the schedule ids of the results there where they are more than one:
    results at those steps were not trained under one schedule."""
    by_step: dict[int, set[str]] = {}
    for t in trials:
        for rung, step in enumerate(t.rung_steps[:len(t.metrics)]):
            sid = schedule_id(t, rung)
            if sid:
                by_step.setdefault(step, set()).add(sid)
    return {step: sorted(ids) for step, ids in sorted(by_step.items()) if len(ids) > 1}


def note_schedule(bracket: Any, trial: TrialState, schedule: int, steps: int) -> Decision | None:
    """Record the schedule (total steps) of the rung result just appended to `trial.metrics` (earlier ones
    unrecorded: 0) among those of its bracket's rung (`BracketState.schedules`); the decision to log when
    it is that rung's second schedule: the rung's rankings mix schedules from now on."""
    trial.schedule_steps.extend([0] * (len(trial.metrics) - 1 - len(trial.schedule_steps)))
    trial.schedule_steps.append(schedule)
    rung = len(trial.metrics) - 1
    sid = schedule_id(trial, rung)
    seen: list[list[str]] = bracket.schedules
    while len(seen) <= rung:
        seen.append([])
    if not sid or sid in seen[rung]:
        return None
    seen[rung].append(sid)
    if len(seen[rung]) != 2:
        return None
    return Decision(kind=MIXED, trial=trial.number, rung=rung, detail=(
        f"bracket {trial.bracket} rung {rung} ({steps} steps) now holds results trained under different LR "
        f"schedules (total steps {', '.join(seen[rung])}): its promotions rank them together"))


def after_result(state: Any, trial: TrialState, mixed: Decision | None) -> None:
    """After a rung result is recorded: log a schedule mixing it caused (`note_schedule`); a user stop that
    landed after the segment's last step stops the trial there, its result kept (one at the top rung has
    nothing left to stop: it stays completed)."""
    if mixed is not None:
        state.decisions.append(mixed)
    if trial.number not in state.stop_requested:
        return
    if trial.state == "completed":
        state.stopped_by_user = [n for n in state.stopped_by_user if n != trial.number]
        return
    stop_by_user(trial, f"stop_trial signal after step {trial.rung_steps[-1]} (its rung result is kept)")


def leaderboard_mixing(trials: list[TrialState], order: list[int]) -> Decision | None:
    """The decision to log when the final ranking (`order`, the leaderboard's: the highest step reached
    first) compares results at its top step trained under different schedules."""
    by_number = {t.number: t for t in trials}
    leaders = [by_number[n] for n in order]
    if not leaders:
        return None
    step = leaders[0].rung_steps[-1]
    ids = sorted({schedule_id(t, len(t.metrics) - 1) for t in leaders if t.rung_steps[-1] == step} - {""})
    if len(ids) < 2:
        return None
    return Decision(kind=MIXED, trial=-1, rung=-1, detail=(
        f"the leaderboard ranks results at step {step} trained under different LR schedules (total steps "
        f"{', '.join(ids)}): the best trial is chosen across them"))


def stopped_short(result: TrainResult, stop_at: int) -> bool:
    """A cancelled segment that has no rung result: it stopped before its rung's step, or without a
    validation there."""
    return result.cancelled and (result.global_step < stop_at or result.final_score is None)


def keep_partial(trial: TrialState, result: TrainResult) -> None:
    """A user stop between rungs: the trial keeps the steps it trained past its last rung and the checkpoint
    it saved at `result.global_step`; it has no result there."""
    previous = trial.rung_steps[-1] if trial.rung_steps else 0
    trial.steps_trained += max(0, result.global_step - previous)
    trial.checkpoint = result.last_checkpoint or trial.checkpoint
    trial.stopped_at_step = result.global_step
    stop_by_user(trial, f"stop_trial signal at step {result.global_step} (checkpoint saved)")


def stop_by_user(trial: TrialState, reason: str) -> None:
    trial.state, trial.reason, trial.user_stopped, trial.demoted = "stopped", reason, True, False


def record_rung(trial: TrialState, result: TrainResult) -> None:
    """Keep every validation metric of the segment that just reached the trial's newest rung (its monitored
    metric is already in `trial.metrics`), and its best checkpoint. Rungs recorded before the metrics were
    kept get empty entries, so `rung_metrics` stays parallel to `metrics`."""
    trial.rung_metrics += [{} for _ in range(len(trial.metrics) - 1 - len(trial.rung_metrics))]
    trial.rung_metrics.append(dict(result.val_metrics))
    trial.best_checkpoint = result.best_checkpoint
