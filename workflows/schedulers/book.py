"""SweepBook: a ladder sweep's records and every state change a decision makes on them (pure: no I/O, no
clock, no Temporal). The workflow owns one, executes what it asks for (segments, archive parts, pruning)
and hands results and messages back; the scheduler of the sweep's kind (`workflows.schedulers`) decides
each rung through `promote` and `stop`."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from typing import Protocol

from workflows import accounting
from workflows.ladder import top_k
from workflows.payloads.messages import TrainResult
from workflows.payloads.records import (
    STOP_SWEEP_REASON,
    SWEEP_ENDED_REASON,
    USER_STOP_DETAIL,
    Decision,
    DecisionKind,
    TrialState,
)
from workflows.payloads.sweep import (
    FINAL_STATES,
    LIVE_STATES,
    BracketState,
    ExtendRequest,
    LadderSweepInput,
    RungArchive,
    RungRow,
    SweepState,
)
from workflows.ranking import leaderboard_order
from workflows.schedulers.mo_ranking import best_value, pareto_leaderboard, rank

USER_STOP = USER_STOP_DETAIL
"""The detail of a `stop` decision the user asked for (and the reason of a trial it stops)."""
EARLY_STOPPING = "early stopping"
"""How the reason of a trial that early stopping finished begins (`trainer.early_stopping_patience`)."""


class Decider(Protocol):
    """What the book asks its sweep's scheduler (`workflows.schedulers.base.Scheduler`)."""

    def plan(self, rungs: list[float], eta: int, n_trials: int) -> list[tuple[list[float], int]]: ...
    def decide(self, book: SweepBook, bracket: int, rung: int, waiting: list[int], results: dict[int, float],
               reported: int, closed: bool) -> None: ...
    def archive_reach(self, bracket_size: int, eta: int) -> int: ...
    def may_leave(self, book: SweepBook, trial: TrialState) -> bool: ...
    def extend_trials(self, book: SweepBook, trials: int, to_steps: Callable[[list[float]], list[int]]) -> None: ...
    def reopen(self, book: SweepBook, bracket: int, old_top: int) -> None: ...
    def refuse_extend(self, request: ExtendRequest) -> str: ...


def frontier(bracket: BracketState, rung: int) -> int:
    """Ordered asha: the trial number below which rung 0's results are applied (`BracketState.frontier`)."""
    return bracket.frontier[rung] if rung < len(bracket.frontier) else 0


def queue(bracket: BracketState, rung: int) -> list[int]:
    """The trials promoted to `rung` whose results there are not applied yet, in promotion order."""
    while len(bracket.promoted) <= rung:
        bracket.promoted.append([])
    return bracket.promoted[rung]


class SweepBook:
    """The trial table (`trials`, by number) over the carried `SweepState` (`s`), and `running`: the
    numbers of the trials training now (the workflow's own table of segments, read only). `pick(kind,
    ordered)` gives the scheduler that decides (`workflows.schedulers.scheduler_for`)."""

    def __init__(self, input: LadderSweepInput, pick: Callable[[str, bool], Decider],
                 running: Collection[int] = ()) -> None:
        self.input = input
        self.pick = pick
        self.s = input.state or SweepState()  # decoded afresh for this run: no copy needed
        self.trials: dict[int, TrialState] = {t.number: t for t in self.s.trials}
        self.running = running
        self.slots: dict[int, dict[int, int]] = {}
        """Per bracket, each parked trial's index in its `Parked` lists (rebuilt when they change)."""
        self.stopped_parked: dict[int, set[int]] = {}
        """Parked trials `settle` stopped, per bracket: they leave `Parked` together when it ends."""

    @property
    def ranking_direction(self) -> str:
        """The direction the schedulers rank a rung's results in: Pareto positions (`mo_ranking`) are minimised."""
        return "minimize" if self.s.pareto else self.input.direction

    @property
    def scheduler(self) -> Decider:
        """Picked when asked: ordered mode is fixed when the run starts (`workflows.sweep_modes.fix_modes`)."""
        return self.pick(self.input.kind, bool(self.s.ordered))

    # ---- reading the records ------------------------------------------------------------------------
    def members(self, bracket: int) -> list[TrialState]:
        return [self.trials[n] for n in self.s.brackets[bracket].proposed]

    def closed(self, bracket: int, rung: int) -> bool:
        """No trial of the bracket can still report at `rung`: all are proposed, none trains towards it."""
        b = self.s.brackets[bracket]
        return len(b.proposed) + b.archived_trials >= b.size and not any(
            t.state in LIVE_STATES and t.target <= rung for t in self.members(bracket)) and not any(
            0 <= target <= rung for target in b.parked.targets)

    def rung_results(self, bracket: int, rung: int, members: list[TrialState]) -> tuple[dict[int, float], int]:
        """The results at `rung` of the bracket's trials in the state and the best archived ones, and how many
        trials reported there in all."""
        results = {t.number: t.metrics[rung] for t in members if t.rung >= rung and len(t.metrics) > rung}
        archived, parked = self.archived(bracket, rung), self.s.brackets[bracket].parked
        here = [i for i, r in enumerate(parked.rungs) if r == rung]
        reported = len(results) + archived.count + len(here)
        results.update(zip(archived.numbers, archived.values, strict=False))
        results.update((parked.numbers[i], parked.values[i]) for i in here)
        return results, reported

    def ranked(self, rung: int, results: dict[int, float]) -> dict[int, float]:
        """The results the schedulers rank (`ranking_direction`-wise): Pareto positions in a sweep ranked by
        objective vectors or constraints (a `mo_ranking.Ranking`, which says what each stands for), else
        `results` as they are."""
        return rank(self.input, self.trials, rung, results) if self.s.pareto else results

    def archived(self, bracket: int, rung: int) -> RungArchive:
        archived = self.s.brackets[bracket].archived
        return archived[rung] if rung < len(archived) else RungArchive()

    def slot(self, bracket: int, number: int) -> int:
        if bracket not in self.slots:
            self.slots[bracket] = {n: i for i, n in enumerate(self.s.brackets[bracket].parked.numbers)}
        return self.slots[bracket][number]

    def waiting(self, number: int, bracket: int) -> bool:
        trial = self.trials.get(number)
        if trial is not None:
            return trial.state == "waiting"
        return (number not in self.stopped_parked.get(bracket, ())
                and self.s.brackets[bracket].parked.targets[self.slot(bracket, number)] < 0)

    def next_number(self) -> int:
        return max(self.s.next_number, max(self.trials, default=-1) + 1)

    # ---- decisions ----------------------------------------------------------------------------------
    def decide(self, kind: DecisionKind, trial: int, rung: int, detail: str) -> None:
        self.s.decisions.append(Decision(kind=kind, trial=trial, rung=rung, detail=detail))

    def settle(self) -> None:
        """Make every promotion decision the results so far allow (pure state change, no I/O)."""
        scheduler = self.scheduler
        for index, b in enumerate(self.s.brackets):
            members = self.members(index)
            for rung in range(len(b.rungs) - 1):
                parked = b.parked
                waiting = sorted([*(t.number for t in members if t.state == "waiting" and t.rung == rung),
                                  *(n for n, r, target in zip(parked.numbers, parked.rungs, parked.targets, strict=False)
                                    if r == rung and target < 0)])
                if not waiting:
                    continue
                if b.probe:  # the rung probe's trials go up every rung unpruned (`rung_probe`)
                    for n in waiting:
                        self.promote(n, rung, "a rung probe trial: trains to the top rung unpruned", index)
                    continue
                results, reported = self.rung_results(index, rung, members)
                results = self.ranked(rung, results)
                scheduler.decide(self, index, rung, waiting, results, reported, self.closed(index, rung))
        for bracket, numbers in self.stopped_parked.items():
            self.drop_parked(bracket, numbers)
        self.stopped_parked = {}

    def promote(self, number: int, rung: int, why: str, bracket: int) -> None:
        trial = self.trials.get(number)
        if trial is not None:
            trial.state, trial.target = "promoted", rung + 1
        else:  # parked: loaded back when a slot is free for it (`load_back`)
            self.s.brackets[bracket].parked.targets[self.slot(bracket, number)] = rung + 1
        self.decide("promote", number, rung, why)

    def stop(self, number: int, rung: int, why: str, bracket: int) -> None:
        trial = self.trials.get(number)
        if trial is not None:
            trial.state, trial.reason, trial.demoted = "stopped", why, True
        else:  # parked: its archived record stays "waiting"; the runner applies this decision to it
            self.stopped_parked.setdefault(bracket, set()).add(number)
            if self.input.keep_checkpoints >= 0:
                self.s.parked_doomed.append([number, rung])
        self.decide("stop", number, rung, why)

    def finish(self) -> None:
        """The sweep ends: trials that would have gone on stop where they are, and say why."""
        for t in self.trials.values():
            if t.state not in FINAL_STATES:
                t.state, t.reason = "stopped", STOP_SWEEP_REASON if self.s.stopping else SWEEP_ENDED_REASON

    def drop_parked(self, bracket: int, numbers: set[int]) -> None:
        """Parked trials become final (stopped): their results count at their rungs like archived trials'."""
        b = self.s.brackets[bracket]
        by_rung: dict[int, list[tuple[int, float]]] = {}
        for n, rung, value in zip(b.parked.numbers, b.parked.rungs, b.parked.values, strict=False):
            if n in numbers:
                by_rung.setdefault(rung, []).append((n, value))
        b.parked.drop(numbers)
        self.slots.pop(bracket, None)
        for rung, results in sorted(by_rung.items()):
            self.count_results(b, rung, results)

    def count_results(self, b: BracketState, rung: int, results: list[tuple[int, float]]) -> None:
        """More archived results (number, value) at `rung`; the best `Scheduler.archive_reach` are kept (no
        promotion reaches further)."""
        while len(b.archived) <= rung:
            b.archived.append(RungArchive())
        archived = b.archived[rung]
        archived.count += len(results)
        reach = self.scheduler.archive_reach(b.size, self.input.eta)
        ranked = dict(zip(archived.numbers, archived.values, strict=False))
        ranked.update(results)
        archived.numbers = top_k(ranked, reach, self.input.direction)
        archived.values = [ranked[n] for n in archived.numbers]

    def doomed_folders(self, folder: Callable[[int], str]) -> list[str]:
        """The checkpoint folders to delete: demoted final trials not among the best `keep_checkpoints` and
        stopped parked ones (`folder(number)` is a trial's). Marks them pruned and logs a `prune` each."""
        keep_checkpoints = self.input.keep_checkpoints
        if keep_checkpoints < 0:
            return []
        keep = set(self.leader_order()[:keep_checkpoints])
        doomed = [t for t in self.trials.values() if t.state == "stopped" and t.demoted and t.checkpoint_dir
                  and not t.checkpoints_pruned and t.number not in keep and t.number not in self.running]
        parked, self.s.parked_doomed = self.s.parked_doomed, []  # never among the best (see `archive_book.leaving`)
        if not doomed and not parked:
            return []
        folders = {t.number: t.checkpoint_dir for t in doomed} | {n: folder(n) for n, _ in parked}
        rungs = {t.number: t.rung for t in doomed} | {n: rung for n, rung in parked}
        for t in doomed:
            t.checkpoints_pruned = True
        for n in sorted(folders):
            self.decide("prune", n, rungs[n], "checkpoints deleted: final and not among the best "
                                              f"{keep_checkpoints}")
        return [folders[n] for n in sorted(folders)]

    # ---- jobs ---------------------------------------------------------------------------------------
    def next_job(self) -> tuple[int, int] | None:
        """(trial, bracket): a promoted trial first (highest rung, lowest number), else a new trial (-1)
        for the first bracket with room."""
        promoted = self.promoted_queue()
        if promoted:
            _, number, bracket = promoted[0]
            return number, bracket
        for index, b in enumerate(self.s.brackets):
            if len(b.proposed) + b.archived_trials < b.size:
                return -1, index
        return None

    def promoted_queue(self) -> list[tuple[int, int, int]]:
        """(-target, number, bracket) of the promoted trials not training, parked ones included, in the
        order they start: the highest target first, then the lowest number."""
        queue = [(-t.target, t.number, t.bracket) for t in self.trials.values()
                 if t.state == "promoted" and t.number not in self.running]
        for index, b in enumerate(self.s.brackets):
            queue.extend((-target, n, index) for n, target in zip(b.parked.numbers, b.parked.targets, strict=False)
                         if target >= 0)
        return sorted(queue)

    def new_trial(self, bracket: int) -> int:
        number = self.next_number()
        self.s.next_number = number + 1
        self.trials[number] = TrialState(number=number, params={}, bracket=bracket, target=0)
        self.s.brackets[bracket].proposed.append(number)
        return number

    def on_result(self, trial: TrialState, result: TrainResult, steps: int, schedule: int, keeps: bool) -> bool:
        """Record a segment's result (`steps`: its rung's step; `schedule`: its LR schedule's total steps;
        `keeps`: the `honest-accounting` patch). False when a user stop left it without a rung result."""
        bracket = self.s.brackets[trial.bracket]
        if result.skipped_checkpoints:
            self.decide("fallback", trial.number, trial.target,
                        f"resumed from step {result.resumed_from_step}, skipping " + "; ".join(result.skipped_checkpoints))
        if keeps and accounting.stopped_short(result, steps):
            accounting.keep_partial(trial, result)
            return False
        score = result.final_score if result.final_score is not None else result.best_score
        trial.rung = trial.target
        trial.metrics.append(score if score is not None else float("nan"))
        trial.rung_steps.append(result.global_step)
        trial.checkpoint = result.last_checkpoint
        accounting.record_rung(trial, result)
        # progress of the trial (work lost to crashes and redone is not counted twice)
        trial.steps_trained += result.global_step - (trial.rung_steps[-2] if len(trial.rung_steps) > 1 else 0)
        trial.resumed_from_steps.append(result.resumed_from_step)
        mixed = accounting.note_schedule(bracket, trial, schedule, steps) if keeps else None
        top = trial.rung == len(bracket.rungs) - 1
        trial.state = "completed" if top or result.stopped_early else "waiting"
        trial.reason = "reached the top rung" if top else ""
        if result.stopped_early:  # finished here: never promoted, never resumed
            trial.reason = f"{EARLY_STOPPING} at step {result.global_step} ({result.monitor} stopped improving)"
        self.decide("rung_result", trial.number, trial.rung,
                    f"{result.monitor} {trial.metrics[-1]:.4f} at step {result.global_step} "
                    f"(resumed from {result.resumed_from_step})")
        if keeps:
            accounting.after_result(self.s, trial, mixed)
        return True

    def best_score(self) -> float | None:
        """The best rung score so far (any rung, any trial, archived ones included), `direction`-wise; ranked
        by vectors: `mo_ranking.best_value` (None while no trial is feasible)."""
        if self.s.pareto:
            return best_value(self.input, list(self.trials.values()))
        scores = [m for t in self.trials.values() for m in t.metrics if math.isfinite(m)]
        if self.s.archived_best is not None:
            scores.append(self.s.archived_best)
        return max(scores) if self.input.direction == "maximize" else min(scores)

    # ---- messages -----------------------------------------------------------------------------------
    def stop_trial(self, number: int) -> tuple[bool, bool]:
        """The user stops a trial: (stopped, cancel): whether it was stopped (unknown and final trials are
        ignored), and whether its running segment must be cancelled (it checkpoints first)."""
        trial = self.trials.get(number)
        parked = next((index for index, b in enumerate(self.s.brackets) if number in b.parked.numbers), None)
        if parked is not None:  # waiting or promoted, its record archived: it never starts again
            b = self.s.brackets[parked]
            self.decide("stop", number, b.parked.rungs[self.slot(parked, number)], USER_STOP)
            self.drop_parked(parked, {number})
            self.s.stopped_by_user.append(number)
            return True, False
        if trial is None or trial.state in FINAL_STATES:
            return False, False
        self.s.stop_requested.append(number)
        self.s.stopped_by_user.append(number)
        self.decide("stop", number, trial.rung, USER_STOP)
        if number in self.running:
            return True, True
        if trial.state in ("waiting", "promoted"):  # not training now: it never starts again
            accounting.stop_by_user(trial, USER_STOP)
        return True, False

    def extend(self, request: ExtendRequest, to_steps: Callable[[list[float]], list[int]]) -> str:
        """Add trials (the scheduler's `extend_trials`) and/or rungs above the current top (every bracket
        grows; trials that completed the old top wait there for its decision)."""
        s, input = self.s, self.input
        added: list[str] = []
        if request.trials:
            self.scheduler.extend_trials(self, request.trials, to_steps)
            added.append(f"{request.trials} trials")
        if request.rungs:
            steps = to_steps([*request.rungs])
            s.extra_rungs.extend(steps)
            archived = 0
            for index, b in enumerate(s.brackets):
                old_top = len(b.rungs) - 1
                archived += self.archived(index, old_top).count
                b.rungs.extend(steps)
                for t in (self.trials[n] for n in b.proposed):
                    if t.state == "completed" and t.rung == old_top and not t.reason.startswith(EARLY_STOPPING):
                        t.state, t.reason = "waiting", ""
                self.scheduler.reopen(self, index, old_top)
            added.append(f"rungs {list(request.rungs)} {input.unit} ({steps} steps)")
            if archived:
                added.append(f"{archived} archived trials that completed the old top stay final (their results "
                             f"still count in the ranking)")
        self.decide("extend", -1, -1, "extend: " + ", ".join(added))
        return f"extended by {', '.join(added)}"

    # ---- views --------------------------------------------------------------------------------------
    def table(self) -> list[TrialState]:
        return [self.trials[n] for n in sorted(self.trials)]

    def leader_order(self) -> list[int]:
        """Trial numbers best first (`ranking.leaderboard_order`; ranked by vectors: `mo_ranking.pareto_leaderboard`)."""
        if self.s.pareto:
            return pareto_leaderboard(self.input, list(self.trials.values()))
        return leaderboard_order(list(self.trials.values()), self.input.direction)

    def leaderboard(self) -> list[TrialState]:
        return [self.trials[n] for n in self.leader_order()]

    def parked_numbers(self) -> list[int]:
        return sorted(n for b in self.s.brackets for n in b.parked.numbers)

    def rung_table(self) -> list[RungRow]:
        rows = []
        for index, b in enumerate(self.s.brackets):
            members = self.members(index)
            for rung, steps in enumerate(b.rungs):
                rows.append(self.rung_row(index, b, members, rung, steps))
        return rows

    def rung_row(self, index: int, b: BracketState, members: list[TrialState], rung: int, steps: int) -> RungRow:
        parked = list(zip(b.parked.rungs, b.parked.targets, strict=False))
        return RungRow(
            bracket=index, rung=rung, budget_steps=steps,
            reported=sum(1 for t in members if t.rung >= rung) + self.archived(index, rung).count
            + sum(1 for r, _ in parked if r == rung),
            promoted=sum(1 for t in members if t.rung > rung or (t.target > rung and t.state in LIVE_STATES))
            + self.archived(index, rung + 1).count + sum(1 for r, target in parked
                                                         if r == rung + 1 or r == rung and target > rung),
            decided=rung in b.decided or (rung < len(b.rungs) - 1 and self.closed(index, rung)),
            schedules=list(b.schedules[rung]) if rung < len(b.schedules) else [],
        )
