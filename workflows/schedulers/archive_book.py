"""The archive's bookkeeping on a `SweepBook`: which records may leave the state, what stays of them once
they have (results per rung in `RungArchive`, parked trials in `Parked`), and how a parked trial comes back
(pure state changes; the workflow writes and reads the archive's parts)."""

from __future__ import annotations

import math

from workflows import sampler_history
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import FINAL_STATES, HELD_LEADERS, LIVE_STATES, BracketState
from workflows.ranking import leaderboard_order
from workflows.sampler_history import LEARNS_FROM_HISTORY
from workflows.schedulers import rung_probe
from workflows.schedulers.book import SweepBook


def leaving(book: SweepBook) -> list[TrialState]:
    """Trials whose records can leave the state: final ones (not running) whose checkpoints need no
    more pruning, and waiting ones (parked: only a compact entry stays, see `Parked`), except the best
    max(HELD_LEADERS, keep_checkpoints), which stay. Nothing the sweep decides later reads these records:
    their results count through `RungArchive` and `Parked`, and a parked trial that is promoted is
    loaded back before it trains. A sweep ranked by objective vectors archives none: those entries hold one
    number per result, and its decisions rank whole vectors (`mo_ranking`)."""
    input, scheduler = book.input, book.scheduler
    if book.s.pareto:
        return []
    held = set(leaderboard_order(list(book.trials.values()), input.direction)[:max(HELD_LEADERS,
                                                                                   input.keep_checkpoints)])
    return [t for n, t in sorted(book.trials.items()) if n not in held and n not in book.running and (
        t.state == "waiting" or t.state in FINAL_STATES
        and (t.checkpoints_pruned or not t.demoted or input.keep_checkpoints < 0)) and scheduler.may_leave(book, t)
            and not rung_probe.holds(book, t)]


def after_part(book: SweepBook, leaving: list[TrialState], decisions: int, part: int) -> None:
    """Archive part `part` holds `leaving` and the first `decisions` decisions: drop them from the state."""
    s, input = book.s, book.input
    del s.decisions[:decisions]  # the rest, and those made while the part was written, go next
    s.archive.trials += len(leaving)
    gone = []
    for t in leaving:  # a signal or `extend` meanwhile may have changed some: those stay
        if t.state in FINAL_STATES or t.state == "waiting":
            retire(book, t, part)
            gone.append(t)
    if input.sampler.name in LEARNS_FROM_HISTORY:
        s.sampler_memory = sampler_history.remember(book, [*s.sampler_memory, *(
            sampler_history.learned(book, t) for t in gone if t.metrics)])
    for index, b in enumerate(s.brackets):
        if len(b.proposed) + b.archived_trials >= b.size and not b.parked.numbers and not any(
                t.state in LIVE_STATES or t.state == "waiting" for t in book.members(index)):
            for archived in b.archived:  # the bracket is done: no decision will rank its trials again
                archived.numbers, archived.values = [], []


def retire(book: SweepBook, trial: TrialState, part: int) -> None:
    """Drop an archived trial from the state, keeping what later decisions need: its rung results (the
    one it waits at, for a waiting trial, in its bracket's `Parked`; the others in `RungArchive`), its
    steps and best score. It leaves `proposed` but counts towards the bracket's size."""
    s, b = book.s, book.s.brackets[trial.bracket]
    b.proposed.remove(trial.number)
    b.archived_trials += 1
    parked = trial.state == "waiting"
    for rung, value in enumerate(trial.metrics[:-1] if parked else trial.metrics):
        book.count_results(b, rung, [(trial.number, value)])
    if parked:
        book.slots.pop(trial.bracket, None)
        b.parked.numbers.append(trial.number)
        b.parked.rungs.append(trial.rung)
        b.parked.values.append(trial.metrics[-1])
        b.parked.parts.append(part)
        b.parked.targets.append(-1)
    finite = [m for m in trial.metrics if math.isfinite(m)]
    if finite:
        pick = max if book.input.direction == "maximize" else min
        s.archived_best = pick([*finite, *([] if s.archived_best is None else [s.archived_best])])
    s.archived_steps += trial.steps_trained
    s.next_number = book.next_number()
    if trial.number in s.stop_requested:
        s.stop_requested.remove(trial.number)
    del book.trials[trial.number]


def to_load(book: SweepBook, free: int) -> tuple[list[int], dict[int, tuple[int, int]]]:
    """The parked trials the `free` slots start next (promoted ones, in start order), and where each is:
    (bracket, archive part)."""
    wanted = [n for _, n, _ in book.promoted_queue()[:max(0, free)] if n not in book.trials]
    if not wanted or book.s.paused or book.s.stopping:
        return [], {}
    return wanted, {n: (index, b.parked.parts[book.slot(index, n)])
                    for index, b in enumerate(book.s.brackets) for n in wanted if n in b.parked.numbers}


def load_back(book: SweepBook, loaded: list[TrialState], where: dict[int, tuple[int, int]]) -> None:
    """Parked trials read back from the archive become members again, promoted (`to_load`)."""
    for trial in loaded:
        index = where[trial.number][0]
        b = book.s.brackets[index]
        if trial.number not in b.parked.numbers:
            continue  # stopped (stop_trial) while it loaded
        trial.state, trial.target = "promoted", b.parked.targets[book.slot(index, trial.number)]
        b.parked.drop({trial.number})
        book.slots.pop(index, None)
        unpark(book, b, trial)


def unpark(book: SweepBook, b: BracketState, trial: TrialState) -> None:
    """A parked trial loaded back to train: it is a member again, its lower rungs' results no longer
    archived ones, and the sampler sees it in the state instead of in its memory."""
    s = book.s
    for rung in range(trial.rung):
        archived = b.archived[rung]
        archived.count -= 1
        if trial.number in archived.numbers:
            i = archived.numbers.index(trial.number)
            del archived.numbers[i], archived.values[i]
    b.archived_trials -= 1
    b.proposed.append(trial.number)
    s.archived_steps -= trial.steps_trained
    s.sampler_memory = [f for f in s.sampler_memory if f.number != trial.number]
    book.trials[trial.number] = trial
