"""The summary line `status` prints under a sweep's or a multirun's table: its trials (jobs) by state, the
steps trained of the budget where the plan says it, and an ETA from the rate it trains at.

    12 trials: 3 running, 2 waiting, 7 completed; 1,200 of 6,000 steps trained (20%); ETA 12m at 1.7 steps/s

Everything is computed from what `status` already reads (the records, the plan, the start times); the
rate is that of the running jobs where they say when they started, else the average since the run started.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from runner.pareto_view import front_line
from workflows.ladder import PROMOTES_ALL, bracket_templates, deal_plan
from workflows.payloads.records import TrialState
from workflows.payloads.runs import RUNNING, CoordinatorStatus
from workflows.payloads.sweep import LadderSweepInput
from workflows.schedulers.rung_probe import probe_budgets


def planned_steps(sweep: LadderSweepInput, first_rung: int = -1) -> int | None:
    """The training steps the sweep's plan takes if each rung promotes as planned (the top 1/eta go on,
    resuming from their checkpoint); None when its rungs are not in steps (their length is known only to
    the workflow). With a rung probe: its trials to the top, then the others from `first_rung` (the probe's
    choice; -1 while it runs: from the first rung, the cheapest it can choose). Rungs `extend` added are not
    in the plan (the sweep's input does not hold them)."""
    if sweep.unit != "steps" or not sweep.rungs:
        return None
    if not sweep.probe_trials:
        return _ladder_steps(sweep, bracket_templates(sweep.kind, sweep.rungs, sweep.eta, sweep.n_trials), sweep.n_trials)
    probed = probe_budgets(sweep)
    rest = sweep.n_trials - sweep.probe_trials
    start = min(max(0, first_rung), len(probed) - 1)  # a rung `extend` added counts as the configured top, as above
    later = bracket_templates(sweep.kind, probed[start:], sweep.eta, rest)
    return sweep.probe_trials * round(probed[-1]) + _ladder_steps(sweep, later, rest)


def _ladder_steps(sweep: LadderSweepInput, templates: list[tuple[list[float], int]], trials: int) -> int:
    total = 0
    for rungs, size in deal_plan(templates, trials):
        below = 0.0
        for index, rung in enumerate(rungs):
            total += (size if sweep.kind in PROMOTES_ALL else max(1, size // sweep.eta ** index)) * round(rung - below)
            below = rung
    return total


def duration(seconds: float) -> str:
    """`45s`, `12m`, `3h05m`, `2d04h`."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def summary_line(states: Iterable[str], noun: str, steps: int, budget: int | None, rate: float | None) -> str:
    """`N trials: counts by state; steps trained [of budget (pct)]; ETA at rate` (`rate` in steps/s, None
    or 0 when unknown)."""
    counts = Counter(states)
    by_state = ", ".join(f"{n} {state}" for state, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    parts = [f"{sum(counts.values())} {noun}: {by_state or 'none yet'}"]
    if budget:
        parts.append(f"{steps:,} of {budget:,} steps trained ({100 * steps // budget}%)")
    else:
        parts.append(f"{steps:,} steps trained (budget unknown: the ladder's rungs are not in steps)"
                     if budget is None else f"{steps:,} steps trained")
    done = bool(budget) and steps >= (budget or 0)  # nothing left to train: no ETA
    if not rate and not done:
        parts.append("ETA unknown (no training rate yet)")
    elif rate and budget and not done:
        parts.append(f"ETA {duration((budget - steps) / rate)} at {rate:.3g} steps/s")
    elif rate and not budget:
        parts.append(f"{rate:.3g} steps/s")
    return "; ".join(parts)


def _seconds(since: datetime | str | None, now: datetime) -> float | None:
    if not since:
        return None
    start = datetime.fromisoformat(since) if isinstance(since, str) else since
    elapsed = (now - start).total_seconds()
    return elapsed if elapsed > 0 else None


def sweep_summary(trials: list[TrialState], sweep: LadderSweepInput | None, started: datetime | None,
                  now: datetime, archived: int = 0, progress: dict[int, str] | None = None, first_rung: int = -1) -> str:
    """The line for a ladder sweep: its trials by state (those of its plan not proposed yet as `not
    started`), the steps trained of its plan (`planned_steps`; the running segments' steps so far counted
    from their `progress`, 'step S/T' by trial) and an ETA at its average rate since `started`. `archived`:
    trial records in its archive, not in `trials` (counted by state as such; their steps are read once it
    ends); `first_rung`: where its rung probe started the ladder (`planned_steps`)."""
    steps = sum(t.steps_trained for t in trials) + _running_steps(trials, progress or {})
    elapsed = _seconds(started, now)
    rate = steps / elapsed if elapsed and steps else None
    planned = sweep.n_trials if sweep else 0
    states = [t.state for t in trials] + ["archived"] * archived + ["not started"] * max(0, planned - len(trials) - archived)
    line = summary_line(states, "trials", steps, planned_steps(sweep, first_rung) if sweep else None, rate)
    line = f"{line} (archived trials' steps not counted)" if archived else line
    if sweep is not None and sweep.probe_trials and first_rung < 0:  # the plan counts the ladder from its first rung
        line += f"; rung probe: trials 0-{sweep.probe_trials - 1} to the top first, then the ladder from the rung they choose"
    front = front_line(trials, sweep.objectives, sweep.constraints) if sweep else ""
    return f"{line}; {front}" if front else line


def _running_steps(trials: list[TrialState], progress: dict[int, str]) -> int:
    """Steps the running segments trained so far: each one's global step past the rung it resumed from."""
    steps = 0
    for t in trials:
        found = re.match(r"step (\d+)/", progress.get(t.number, ""))
        if found:
            steps += max(0, int(found.group(1)) - (t.rung_steps[-1] if t.rung_steps else 0))
    return steps


def coordinator_summary(status: CoordinatorStatus, started: datetime | None, now: datetime) -> str:
    """The line for a multirun: its jobs by state, steps trained of every job's max_steps, and an ETA at
    the rate its running jobs train at now (each job's steps since it started), else the average since
    `started`."""
    steps = sum(job.step for job in status.jobs)
    budget = sum(job.max_steps for job in status.jobs) if all(job.max_steps for job in status.jobs) else 0
    rates = [job.step / elapsed for job in status.jobs if job.state == RUNNING and job.step
             for elapsed in [_seconds(job.started_at, now)] if elapsed]
    elapsed = _seconds(started, now)
    rate = sum(rates) if rates else (steps / elapsed if elapsed and steps else None)
    return summary_line((job.state for job in status.jobs), "jobs", steps, budget, rate)
