"""Decisions independent of timing (`sampler.deterministic`): what LadderSweepWorkflow uses instead of
"whatever has arrived" so that the same sweep decides the same at any parallelism and any speed.

- Proposals: trial n learns from the trials numbered below n - `sampler.lag` only, each through its
  first-rung result (the one every trial reports first, whatever else has run since), and waits for those
  results if they are not in yet (`proposal_ready`). A fixed lag, not the parallelism, so that the sweep is
  the same at parallelism 1, 2 or 4.
- asha: the results at a rung are applied in trial-number order (`release_in_order`): trial k's result is
  ranked only once every lower-numbered trial of its bracket has reported at that rung or is known never
  to; after each one the top 1/eta of the results applied so far that wait there go up. Each rung keeps
  its frontier (every trial below it has been applied) in `BracketState.frontier`.

Pure state changes on the workflow's own records: safe in workflow code (no I/O, no clock).
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.ladder import asha_promotable
from workflows.messages import FinishedTrial
from workflows.sampler_history import LEARNS_FROM_HISTORY, sampler_window
from workflows.sweep_records import TrialState

FINAL = ("stopped", "completed", "failed")


def ordered_mode(input: Any, state: Any) -> bool:
    """Whether a sweep decides independently of timing, fixed for its lifetime in its carried state: asked
    for (`sampler.deterministic`) and started by code that has the mode. A sweep started before it replays
    without the patch marker, and its hand-offs carry no decision (`state.ordered` None): both stay in
    arrival order."""
    if state.ordered is None:
        state.ordered = bool(input.sampler.deterministic) and input.state is None and workflow.patched(
            "ordered-decisions")
    return bool(state.ordered)


def finished(trial: TrialState) -> FinishedTrial:
    """What the sampler learns from a trial with a result: complete at the top rung, else pruned where it is."""
    return FinishedTrial(number=trial.number, params=trial.params,
                         state="complete" if trial.state == "completed" else "pruned", value=trial.metrics[-1],
                         step=trial.rung_steps[-1])


def first_result(trial: TrialState, one_rung: bool) -> FinishedTrial:
    """What the sampler learns from a trial in deterministic mode: its result at its first rung (complete
    when that rung is its bracket's top, else pruned there), the same however far it has got since."""
    return FinishedTrial(number=trial.number, params=trial.params, state="complete" if one_rung else "pruned",
                         value=trial.metrics[0], step=trial.rung_steps[0])


def proposal_ready(trials: dict[int, TrialState], number: int, lag: int) -> bool:
    """Every trial below number - lag has its first result or is final (archived ones are one or the other)."""
    return all(k not in trials or trials[k].metrics or trials[k].state in FINAL for k in range(number - lag))


def learned(wf: Any, trial: TrialState) -> FinishedTrial:
    """What the sampler learns from a trial: its first result when deterministic, else its latest (`finished`)."""
    if not wf._s.ordered:
        return finished(trial)
    return first_result(trial, len(wf._s.brackets[trial.bracket].rungs) == 1)


def proposal_history(wf: Any, number: int) -> list[FinishedTrial]:
    """What trial `number` learns from: the sampler's window over the archived trials it remembers and the
    trials in the state with a result (deterministic: only those below number - lag; see `proposal_ready`)."""
    sampler = wf._input.sampler
    if sampler.name not in LEARNS_FROM_HISTORY:
        return []
    known = [*wf._s.sampler_memory, *(learned(wf, t) for t in wf._trials.values() if t.metrics)]
    if wf._s.ordered:
        known = [f for f in known if f.number < number - sampler.lag]
    return sampler_window(known, sampler.max_history, wf._input.direction)


def remember(wf: Any, known: list[FinishedTrial]) -> list[FinishedTrial]:
    """The sampler's memory of archived trials (`known`): its window over them. Deterministic: the window
    only over the trials below every later proposal's cutoff (the lowest trial still to propose, minus the
    lag), the others kept whole, so that a proposal's window over memory and state is the one it would take
    over every trial (as if none had been archived), whatever was archived when."""
    sampler, direction = wf._input.sampler, wf._input.direction
    if not wf._s.ordered:
        return sampler_window(known, sampler.max_history, direction)
    cut = min([t.number for t in wf._trials.values() if not t.params and t.state not in FINAL],
              default=wf._next_number()) - sampler.lag
    low = sampler_window([f for f in known if f.number < cut], sampler.max_history, direction)
    return sorted([*low, *(f for f in known if f.number >= cut)], key=lambda f: f.number)


def frontier(bracket: Any, rung: int) -> int:
    return bracket.frontier[rung] if rung < len(bracket.frontier) else 0


def may_leave(trial: TrialState, bracket: Any) -> bool:
    """An asha trial's record may be archived once its result at its rung has been applied (a waiting one
    is parked with its result, which `release_in_order` reads there)."""
    return (trial.state == "waiting" or not trial.metrics or trial.rung >= len(bracket.rungs) - 1
            or trial.number < frontier(bracket, trial.rung))


def release_in_order(wf: Any, index: int, rung: int, waiting: list[int], closed: bool, eta: int,
                     direction: str) -> None:
    """asha at `rung` of bracket `index`, in trial-number order: apply the results from the rung's frontier
    on, one trial at a time, until one that may still report there has not; after each, promote the
    waiting trials in the top 1/eta of those applied. Once the rung is closed and all are applied, the
    trials still waiting there stop. `wf` is the LadderSweepWorkflow (its `_promote`, `_stop`, records)."""
    b = wf._s.brackets[index]
    while len(b.frontier) <= rung:
        b.frontier.append(0)
    edge = b.frontier[rung]
    members = {t.number: t for t in wf._members(index)}
    parked = b.parked
    slots = {n: i for i, n in enumerate(parked.numbers)}
    dropping = wf._stopped_parked.get(index, set())
    results = {n: t.metrics[rung] for n, t in members.items() if n < edge and len(t.metrics) > rung}
    archived = wf._archived(index, rung)
    here = [i for i, r in enumerate(parked.rungs) if r == rung and parked.numbers[i] < edge]
    reported = len(results) + archived.count + len(here)
    results.update(zip(archived.numbers, archived.values))
    results.update((parked.numbers[i], parked.values[i]) for i in here)
    left = set(waiting)
    blocked = False
    for n in sorted(n for n in [*members, *parked.numbers] if n >= edge):
        t = members.get(n)
        if t is not None:
            if len(t.metrics) <= rung:
                if t.state in FINAL:  # never reports here
                    edge = n + 1
                    continue
                blocked = True  # trains towards this rung, or waits below it and may be promoted
                break
            value = t.metrics[rung]
        else:
            i = slots[n]
            if parked.rungs[i] != rung:
                if parked.rungs[i] < rung and n not in dropping:
                    blocked = True
                    break
                edge = n + 1  # stopped below this rung, or applied here before it was parked higher up
                continue
            value = parked.values[i]
        results[n] = value
        reported += 1
        edge = n + 1
        gone = {m for m, t in members.items() if t.target > rung or t.rung > rung}
        for p in asha_promotable(results, gone, eta, direction, reported):
            if p in left and wf._waiting(p, index):
                left.discard(p)
                wf._promote(p, rung, f"in the top 1/{eta} of {reported} reported", index)
    b.frontier[rung] = edge
    if closed and not blocked:
        for n in sorted(left):
            if wf._waiting(n, index):
                wf._stop(n, rung, f"not in the top 1/{eta} of {reported} at the rung's close", index)
