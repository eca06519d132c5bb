"""A population-based training sweep as users read it (`ladder=pbt`; `workflows.schedulers.pbt_scheduler`):
each member's lineage (`TrialState.lineage`: whose weights it carries from which step on, and the
parameters it trains with from there) and the hyperparameter schedules that follow from it.

- `lineage_text`: `0@0 -> 2@100 -> 1@200` is member 0's own start, then member 2's weights at step 100,
  then member 1's at step 200 (an exploit decided but not applied yet ends it with `(-> 1@200 pending)`);
  the terminal tables, leaderboard.csv and the HTML leaderboard show it in a `lineage` column, for PBT
  sweeps only (`is_pbt`);
- `schedule`: the parameters a member trained with, from each step of its lineage on;
- `ancestry`: the parameters its weights were trained with, followed back through the members it copied:
  the schedule PBT found (Jaderberg et al. 2017 read it off the best member's ancestry);
- `best_lineage`: sweep.json's section of the best trial: its lineage and its weights' schedule.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from workflows.payloads.records import Decision, PbtStep, TrialState
from workflows.payloads.sweep import LadderSweepResult

EXPLOIT_KINDS = ("exploit", "exploit_skip")
"""The decisions population-based training makes at a perturbation boundary (`workflows.payloads.records`)."""


def is_pbt(trials: list[TrialState]) -> bool:
    """A population-based training sweep's trials: some carry a lineage (the other ladder kinds' none)."""
    return any(t.lineage or t.pending_exploit is not None for t in trials)


def steps_of(t: TrialState) -> list[PbtStep]:
    """The member's applied lineage, by step; one not recorded yet is its own start with its parameters."""
    return sorted(t.lineage, key=lambda s: s.step) or [PbtStep(step=0, source=t.number, params=dict(t.params))]


def source_of(t: TrialState, step: PbtStep) -> int:
    """Whose weights the member carries from `step` on (its own at its start, whatever that entry says)."""
    return step.source if step.source >= 0 else t.number


def lineage_text(t: TrialState) -> str:
    """`0@0 -> 2@100 -> 1@200`: SOURCE@STEP per lineage entry, and a pending exploit at the end."""
    text = " -> ".join(f"{source_of(t, s)}@{s.step}" for s in steps_of(t))
    pending = t.pending_exploit
    return text + (f" (-> {pending.source}@{pending.step} pending)" if pending is not None else "")


def last_step(t: TrialState) -> int:
    """The global step the member trained to (its latest result, or where a stop left it)."""
    return max([*t.rung_steps[-1:], t.stopped_at_step, *(s.step for s in steps_of(t))])


def schedule(t: TrialState) -> list[tuple[int, dict[str, Any]]]:
    """(step, parameters it trained with from there on) of each lineage entry."""
    return [(s.step, dict(s.params)) for s in steps_of(t)]


def ancestry(trials: dict[int, TrialState], number: int, until: int | None = None) -> list[tuple[int, int, dict]]:
    """(from step, member, parameters) of each stretch the weights of member `number` at step `until`
    (None: its latest) were trained in, oldest first: before its latest exploit, its source's weights'
    ancestry up to the step copied, and so on back to a member's own start. Steps strictly fall, so it
    ends; a member not among `trials` (archived records missing) ends it there."""
    t = trials.get(number)
    steps = [s for s in steps_of(t) if until is None or s.step < until] if t is not None else []
    if not steps:
        return []
    latest = steps[-1]  # every entry but the first (its own start) is an exploit: new weights and parameters
    before = ancestry(trials, latest.source, latest.step) if len(steps) > 1 else []
    return [*before, (latest.step, number, dict(latest.params))]


def best_lineage(result: LadderSweepResult) -> dict[str, Any]:
    """sweep.json's `best_lineage` of a PBT sweep's best trial (empty for other sweeps, or with no best):
    its lineage as text and as records, and its weights' hyperparameter schedule (`ancestry`)."""
    by_number = {t.number: t for t in result.trials}
    best = by_number.get(result.best_trial)
    if best is None or not is_pbt(result.trials):
        return {}
    return {"trial": best.number, "lineage": lineage_text(best), "steps": [asdict(s) for s in steps_of(best)],
            "until_step": last_step(best),
            "schedule": [{"from_step": step, "weights_of": member, "params": params}
                         for step, member, params in ancestry(by_number, best.number)]}


def exploit_rows(result: LadderSweepResult) -> list[dict[str, Any]]:
    """The exploit and exploit_skip decisions, in order: kind, member, rung, the boundary's step, detail
    (`member 3 (1.2) copies member 0 (0.8) at step 100; optim.lr 0.0003 -> 0.00036 (x1.2); ...`)."""
    by_number = {t.number: t for t in result.trials}

    def step(d: Decision) -> int | str:
        t = by_number.get(d.trial)
        return t.rung_steps[d.rung] if t is not None and 0 <= d.rung < len(t.rung_steps) else ""

    return [{"kind": d.kind, "member": d.trial, "rung": d.rung, "step": step(d), "detail": d.detail}
            for d in result.decisions if d.kind in EXPLOIT_KINDS]
