"""Decisions independent of timing (`sampler.deterministic`): what LadderSweepWorkflow uses instead of
"whatever has arrived" so that the same sweep decides the same at any parallelism and any speed.

- Proposals: trial n learns from the trials numbered below n - `sampler.lag` only, each through its
  first-rung result (the one every trial reports first, whatever else has run since), and waits for those
  results if they are not in yet (`proposal_ready`). A fixed lag, not the parallelism, so that the sweep is
  the same at parallelism 1, 2 or 4.
- asha: the results at a rung are applied one at a time in a fixed order (`release_in_order`); after each
  one the top 1/eta of the results applied so far that wait there go up. At rung 0 the order is the trial
  number (every trial enters there, in number order): trial k's result is ranked once every lower-numbered
  trial of its bracket has reported there or is known never to, the rung's frontier in
  `BracketState.frontier`. At rung r >= 1 it is the order the trials were promoted to r (itself fixed:
  promotions are made while applying rung r - 1's results in order), kept as the queue of those not yet
  applied in `BracketState.promoted[r]`; a trial still below r that was not promoted is never waited for,
  so rungs above the first go on while new trials keep arriving. Sweeps started before that rule
  (`workflow.patched(PROMOTION_ORDER)`; their hand-offs carry no `SweepState.by_promotion`) apply every
  rung in trial-number order.

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
LIVE = ("pending", "running", "promoted")
PROMOTION_ORDER = "ordered-promotion-order"
"""The patch id of applying rung r >= 1's results in promotion order (sweeps started before it replay without)."""


def ordered_mode(input: Any, state: Any) -> bool:
    """Whether a sweep decides independently of timing, fixed for its lifetime in its carried state: asked
    for (`sampler.deterministic`) and started by code that has the mode. A sweep started before it replays
    without the patch marker, and its hand-offs carry no decision (`state.ordered` None): both stay in
    arrival order."""
    if state.ordered is None:
        state.ordered = bool(input.sampler.deterministic) and input.state is None and workflow.patched(
            "ordered-decisions")
    if state.by_promotion is None:  # an older ordered sweep's hand-off carries none: it keeps number order
        state.by_promotion = bool(state.ordered) and input.state is None and workflow.patched(PROMOTION_ORDER)
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


def queue(bracket: Any, rung: int) -> list[int]:
    """The trials promoted to `rung` whose results there are not applied yet, in promotion order."""
    while len(bracket.promoted) <= rung:
        bracket.promoted.append([])
    return bracket.promoted[rung]


def may_leave(trial: TrialState, bracket: Any, state: Any) -> bool:
    """An asha trial's record may be archived once its result at its rung has been applied (a waiting one
    is parked with its result, which `release_in_order` reads there). `state`: the sweep's `SweepState`."""
    if trial.state == "waiting" or not trial.metrics or trial.rung >= len(bracket.rungs) - 1:
        return True
    if state.by_promotion and trial.rung > 0:
        return trial.rung >= len(bracket.promoted) or trial.number not in bracket.promoted[trial.rung]
    return trial.number < frontier(bracket, trial.rung)


def reopen(wf: Any, index: int, rung: int) -> None:
    """`extend --rungs`: the old top `rung` gets decisions. Nothing was queued at a top rung, so its trials
    (completed there, now waiting, or promoted towards it) are queued in number order."""
    if not wf._s.by_promotion or rung == 0:
        return
    b = wf._s.brackets[index]
    numbers = [t.number for t in wf._members(index) if t.target == rung and (
        t.state in LIVE or t.state == "waiting" and t.rung == rung)]
    numbers += [n for n, target in zip(b.parked.numbers, b.parked.targets) if target == rung]
    queue(b, rung)[:] = sorted(numbers)


def result_at(n: int, rung: int, members: dict[int, TrialState], parked: Any, slots: dict[int, int],
              dropping: set[int]) -> tuple[bool, float | None]:
    """(blocked, value): whether trial `n` may still report at `rung` but has not; else its result there, or
    None when it never reports there (final below it; archived as final: counted through `RungArchive`)."""
    t = members.get(n)
    if t is not None:
        if len(t.metrics) > rung:
            return False, t.metrics[rung]
        return t.state not in FINAL, None  # trains towards this rung, or waits below it and may be promoted
    i = slots.get(n)
    if i is None:
        return False, None
    if parked.rungs[i] == rung:
        return False, parked.values[i]
    # parked below it: promoted there (or may still be) unless stopped; parked above it: applied here before
    return parked.rungs[i] < rung and n not in dropping, None


def release_in_order(wf: Any, index: int, rung: int, waiting: list[int], closed: bool, eta: int,
                     direction: str) -> None:
    """asha at `rung` of bracket `index`, in a fixed order (rung 0: trial numbers from the rung's frontier;
    above: the rung's promotion queue): apply the results one trial at a time until one that may still
    report there has not; after each, promote the waiting trials in the top 1/eta of those applied. Once
    the rung is closed and all are applied, the trials still waiting there stop. `wf` is the
    LadderSweepWorkflow (its `_promote`, `_stop`, records)."""
    b = wf._s.brackets[index]
    members = {t.number: t for t in wf._members(index)}
    parked = b.parked
    slots = {n: i for i, n in enumerate(parked.numbers)}
    dropping = wf._stopped_parked.get(index, set())
    by_promotion = bool(wf._s.by_promotion)
    line = queue(b, rung) if by_promotion and rung > 0 else None
    pending = set(line or ())
    edge = frontier(b, rung)

    def applied(n: int) -> bool:
        return n not in pending if line is not None else n < edge

    order = list(line) if line is not None else sorted(n for n in [*members, *parked.numbers] if n >= edge)
    results = {n: t.metrics[rung] for n, t in members.items() if applied(n) and len(t.metrics) > rung}
    archived = wf._archived(index, rung)
    here = [i for i, r in enumerate(parked.rungs) if r == rung and applied(parked.numbers[i])]
    reported = len(results) + archived.count + len(here)
    results.update(zip(archived.numbers, archived.values))
    results.update((parked.numbers[i], parked.values[i]) for i in here)
    left = set(waiting)
    done, blocked = 0, False
    for n in order:
        blocked, value = result_at(n, rung, members, parked, slots, dropping)
        if blocked:
            break
        done += 1
        if value is None:
            continue
        results[n] = value
        reported += 1
        gone = {m for m, t in members.items() if t.target > rung or t.rung > rung}
        for p in asha_promotable(results, gone, eta, direction, reported):
            if p in left and wf._waiting(p, index):
                left.discard(p)
                wf._promote(p, rung, f"in the top 1/{eta} of {reported} reported", index)
                if by_promotion and rung + 1 < len(b.rungs) - 1:  # a top rung has no decisions to order
                    queue(b, rung + 1).append(p)
    if line is not None:
        del line[:done]
    else:
        while len(b.frontier) <= rung:
            b.frontier.append(0)
        b.frontier[rung] = order[done - 1] + 1 if done else edge
    if closed and not blocked:
        for n in sorted(left):
            if wf._waiting(n, index):
                wf._stop(n, rung, f"not in the top 1/{eta} of {reported} at the rung's close", index)
