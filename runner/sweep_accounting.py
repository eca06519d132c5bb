"""How a sweep's tables account for what happened to each trial and result (`workflows.accounting`):

- who stopped a stopped trial: the ladder (demoted), the user (`stop --trial`, with the step it was left
  at when stopped between rungs), or the sweep's end (stopped by the user, or its plan done);
- which LR schedule each rung result was trained under, and the rung steps whose results were not
  trained under one schedule (after `extend --rungs`), marked in every table with a one-line footnote;
- whether the sweep completed its plan, or the user or its budget stopped it.

The terminal trial table, leaderboard.csv, sweep.json and the HTML report all read these.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from runner.budget_view import budget_fields, stopped_by_budget
from workflows.accounting import mixed_steps, schedule_id
from workflows.payloads.records import STOP_SWEEP_REASON, SWEEP_ENDED_REASON, USER_STOP_DETAIL, Decision, TrialState

MARK = "‡"
"""Marks a rung step (a column, a leaderboard result) whose results were trained under different schedules."""


def stopped_by(t: TrialState, sweep_stopped: bool) -> str:
    """Who ended a stopped trial: 'ladder' (demoted at a rung), 'user' (`stop --trial`), 'sweep_stop' (the
    user stopped the sweep) or 'sweep_end' (the sweep's plan was done); '' for a trial not stopped."""
    if t.state != "stopped":
        return ""
    if t.user_stopped:
        return "user"
    if t.demoted:
        return "ladder"
    return "sweep_stop" if sweep_stopped or t.reason == STOP_SWEEP_REASON else "sweep_end"


STOPPED_TEXT = {"ladder": "demoted by the ladder", "user": "stopped by the user", "sweep_stop": "sweep stopped",
                "sweep_end": "sweep ended"}


def state_text(t: TrialState, sweep_stopped: bool) -> str:
    """A trial's state as the tables show it: 'stopped (demoted by the ladder)', 'stopped (stopped by the
    user at step 37)', 'completed', ..."""
    who = stopped_by(t, sweep_stopped)
    if not who:
        return t.state
    at = f" at step {t.stopped_at_step}" if who == "user" and t.stopped_at_step else ""
    return f"stopped ({STOPPED_TEXT[who]}{at})"


def top_schedule(t: TrialState) -> str:
    """The schedule id of the trial's latest rung result ('' if none or not recorded)."""
    return schedule_id(t, len(t.metrics) - 1) if t.metrics else ""


def is_mixed(t: TrialState, mixed: dict[int, list[str]]) -> bool:
    """The trial's latest rung result sits at a step whose results were trained under different schedules."""
    return bool(t.metrics and t.rung_steps) and t.rung_steps[len(t.metrics) - 1] in mixed


def top_step_text(t: TrialState, mixed: dict[int, list[str]]) -> str:
    """The step of the trial's latest rung result, marked where results there mix schedules."""
    if not t.metrics or not t.rung_steps:
        return ""
    return f"{t.rung_steps[len(t.metrics) - 1]}{MARK if is_mixed(t, mixed) else ''}"


def footnote(mixed: dict[int, list[str]]) -> str:
    """One line under a table with marked results; '' when none is marked."""
    if not mixed:
        return ""
    steps = "; ".join(f"step {step}: {' vs '.join(ids)}" for step, ids in mixed.items())
    return (f"{MARK} results at these steps were not trained under one LR schedule (`extend --rungs` lengthened "
            f"it; total steps, '>' where a trial's schedule changed): {steps}. Their ranking compares them anyway.")


ACCOUNTING = ("stopped_by", "stopped_at_step", "schedule", "mixed_schedule")
"""leaderboard.csv's accounting columns (`leaderboard_columns`)."""


def leaderboard_columns(t: TrialState, mixed: dict[int, list[str]], sweep_stopped: bool) -> dict[str, Any]:
    """The accounting columns of a leaderboard row (leaderboard.csv, the HTML report)."""
    return {"stopped_by": stopped_by(t, sweep_stopped), "stopped_at_step": t.stopped_at_step or "",
            "schedule": top_schedule(t), "mixed_schedule": is_mixed(t, mixed)}


def sweep_outcome(result: Any) -> str:
    """'stopped' when the user stopped the sweep (`train-tune stop`), else 'completed' (its plan done)."""
    return "stopped" if getattr(result, "stopped", False) else "completed"


def outcome_line(result: Any) -> str:
    """The terminal summary's line about how the sweep ended."""
    if sweep_outcome(result) == "stopped":
        left = sum(1 for t in result.trials if t.state == "stopped" and not t.user_stopped and not t.demoted)
        who = f"its budget ({stopped_by_budget(result)})" if stopped_by_budget(result) else "the user (train-tune stop)"
        return f"sweep stopped by {who} before its plan was done: {left} trials ended where they were"
    return "sweep completed its plan"


def sweep_json_fields(result: Any) -> dict[str, Any]:
    """What sweep.json says of the sweep's end and its schedules, beside the result's own fields."""
    mixed = mixed_steps(result.trials)
    return {"status": sweep_outcome(result), "mixed_schedule_steps": {str(k): v for k, v in mixed.items()},
            "schedule_note": footnote(mixed), **budget_fields(result)}


def settle_parked(parked: list[TrialState], decisions: list[Decision],
                  stopped_by_user: Collection[int] | None = None) -> None:
    """Trials whose last record was archived while they waited (parked) and never loaded back: apply what
    the sweep decided about them afterwards, as it would have to a trial it kept. A stop at their rung
    (the ladder's, which deletes checkpoints, or the user's: a trial in `stopped_by_user`, or, for sweeps
    recorded before that list, a stop_trial signal's); else the sweep ended first."""
    stops = {(d.trial, d.rung): d.detail for d in decisions if d.kind == "stop"}
    promoted = {(d.trial, d.rung) for d in decisions if d.kind == "promote"}
    pruned = {d.trial for d in decisions if d.kind == "prune"}
    ended = STOP_SWEEP_REASON if any(d.kind == "stop_sweep" for d in decisions) else SWEEP_ENDED_REASON
    users = set(stopped_by_user or ())
    for t in parked:
        why = stops.get((t.number, t.rung))
        if (t.number, t.rung) in promoted:
            t.target = t.rung + 1
        user = why is not None and (t.number in users or why == USER_STOP_DETAIL)
        t.state, t.reason, t.demoted, t.user_stopped = "stopped", why or ended, why is not None and not user, user
        t.checkpoints_pruned = t.number in pruned
