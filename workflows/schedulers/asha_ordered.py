"""Ordered asha: asynchronous successive halving whose decisions do not depend on timing
(`sampler.deterministic`), so that the same sweep decides the same at any parallelism and any speed.

The results at a rung are applied one at a time in a fixed order (`release_in_order`); after each one the
top 1/eta of the results applied so far that wait there go up (ASHA's rule: Li et al., "A System for
Massively Parallel Hyperparameter Tuning", MLSys 2020, Alg. 2). At rung 0 the order is the trial number
(every trial enters there, in number order): trial k's result is ranked once every lower-numbered trial of
its bracket has reported there or is known never to, the rung's frontier in `BracketState.frontier`. At
rung r >= 1 it is the order the trials were promoted to r (itself fixed: promotions are made while applying
rung r - 1's results in order), kept as the queue of those not yet applied in `BracketState.promoted[r]`; a
trial still below r that was not promoted is never waited for, so rungs above the first go on while new
trials keep arriving. Sweeps started before that rule (the workflow's `ordered-promotion-order` patch;
their hand-offs carry no `SweepState.by_promotion`) apply every rung in trial-number order.
"""

from __future__ import annotations

from workflows.ladder import asha_promotable
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import FINAL_STATES, BracketState, Parked, SweepState
from workflows.schedulers.asha import AshaScheduler
from workflows.schedulers.book import SweepBook, frontier, queue
from workflows.schedulers.mo_ranking import standing


class OrderedAshaScheduler(AshaScheduler):
    kind = "asha"

    def decide(self, book: SweepBook, bracket: int, rung: int, waiting: list[int], results: dict[int, float],
               reported: int, closed: bool) -> None:
        release_in_order(book, bracket, rung, waiting, closed, book.input.eta, book.ranking_direction)

    def may_leave(self, book: SweepBook, trial: TrialState) -> bool:
        return may_leave(trial, book.s.brackets[trial.bracket], book.s)


def may_leave(trial: TrialState, bracket: BracketState, state: SweepState) -> bool:
    """An asha trial's record may be archived once its result at its rung has been applied (a waiting one
    is parked with its result, which `release_in_order` reads there). `state`: the sweep's `SweepState`."""
    if trial.state == "waiting" or not trial.metrics or trial.rung >= len(bracket.rungs) - 1:
        return True
    if state.by_promotion and trial.rung > 0:
        return trial.rung >= len(bracket.promoted) or trial.number not in bracket.promoted[trial.rung]
    return trial.number < frontier(bracket, trial.rung)


def result_at(n: int, rung: int, members: dict[int, TrialState], parked: Parked, slots: dict[int, int],
              dropping: set[int]) -> tuple[bool, float | None]:
    """(blocked, value): whether trial `n` may still report at `rung` but has not; else its result there, or
    None when it never reports there (final below it; archived as final: counted through `RungArchive`)."""
    t = members.get(n)
    if t is not None:
        if len(t.metrics) > rung:
            return False, t.metrics[rung]
        return t.state not in FINAL_STATES, None  # trains towards this rung, or waits below it and may be promoted
    i = slots.get(n)
    if i is None:
        return False, None
    if parked.rungs[i] == rung:
        return False, parked.values[i]
    # parked below it: promoted there (or may still be) unless stopped; parked above it: applied here before
    return parked.rungs[i] < rung and n not in dropping, None


def release_in_order(book: SweepBook, index: int, rung: int, waiting: list[int], closed: bool, eta: int,
                     direction: str) -> None:
    """asha at `rung` of bracket `index`, in a fixed order (rung 0: trial numbers from the rung's frontier;
    above: the rung's promotion queue): apply the results one trial at a time until one that may still
    report there has not; after each, promote the waiting trials in the top 1/eta of those applied. Once
    the rung is closed and all are applied, the trials still waiting there stop. `direction`: the book's
    `ranking_direction` (the results are ranked by `SweepBook.ranked` after each one applied)."""
    b = book.s.brackets[index]
    members = {t.number: t for t in book.members(index)}
    parked = b.parked
    slots = {n: i for i, n in enumerate(parked.numbers)}
    dropping = book.stopped_parked.get(index, set())
    by_promotion = bool(book.s.by_promotion)
    line = queue(b, rung) if by_promotion and rung > 0 else None
    pending = set(line or ())
    edge = frontier(b, rung)

    def applied(n: int) -> bool:
        return n not in pending if line is not None else n < edge

    order = list(line) if line is not None else sorted(n for n in [*members, *parked.numbers] if n >= edge)
    results = {n: t.metrics[rung] for n, t in members.items() if applied(n) and len(t.metrics) > rung}
    archived = book.archived(index, rung)
    here = [i for i, r in enumerate(parked.rungs) if r == rung and applied(parked.numbers[i])]
    reported = len(results) + archived.count + len(here)
    results.update(zip(archived.numbers, archived.values, strict=False))
    results.update((parked.numbers[i], parked.values[i]) for i in here)
    left = set(waiting)
    ranked = book.ranked(rung, results)
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
        ranked = book.ranked(rung, results)
        for p in asha_promotable(ranked, gone, eta, direction, reported):
            if p in left and book.waiting(p, index):
                left.discard(p)
                book.promote(p, rung, f"{standing(ranked, p)}in the top 1/{eta} of {reported} reported", index)
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
            if book.waiting(n, index):
                book.stop(n, rung, f"{standing(ranked, n)}not in the top 1/{eta} of {reported} at the rung's close",
                          index)
