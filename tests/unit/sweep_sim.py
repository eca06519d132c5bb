"""The ladder sweep's loop played without Temporal: the workflow's own decisions (`workflows.schedulers`)
driven the way `LadderSweepWorkflow.run` drives them, one segment at a time, with an in-memory archive.
Each segment's result is `value(trial, rung)` at once, so a sweep of dozens of trials runs in milliseconds."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from workflows.payloads.messages import TrainResult
from workflows.payloads.records import Decision, TrialState
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import DECISIONS_PER_TRIAL, BracketState, LadderSweepInput
from workflows.schedulers import archive_book, open_book
from workflows.schedulers.book import SweepBook
from workflows.schedulers.mo_ranking import ranks_by_pareto


def value(number: int, rung: int) -> float:
    """A fixed, scrambled score per trial (minimize), a little better at each higher rung."""
    return ((number * 7919) % 97) / 97 - rung / 100


def sweep_input(kind: str, n_trials: int, rungs: list[float], eta: int = 3, archive_batch: int = 0,
                keep_checkpoints: int = 1, deterministic: bool = False) -> LadderSweepInput:
    return LadderSweepInput(name="sim", base=None, space=[], n_trials=n_trials, rungs=rungs, eta=eta,  # type: ignore[arg-type]
                            kind=kind, sampler=SamplerSpec(name="tpe", deterministic=deterministic),
                            keep_checkpoints=keep_checkpoints, archive_batch=archive_batch)


def result(steps: int, score: float, val_metrics: dict[str, float] | None = None) -> TrainResult:
    return TrainResult(best_checkpoint=f"step{steps}", last_checkpoint=f"step{steps}", global_step=steps,
                       resumed_from_step=0, attempt=1, best_score=score, monitor="val_loss",
                       steps_this_attempt=steps, final_score=score, val_metrics=val_metrics or {"val_loss": score})


@dataclass
class Sim:
    book: SweepBook
    score: Callable[[int, int], float] = value
    metrics: Callable[[int, int], dict[str, float]] | None = None
    """Every validation metric of a segment (the monitored `score` is added as val_loss); None: only it."""
    archived_decisions: list[Decision] = field(default_factory=list)
    archive: dict[int, TrialState] = field(default_factory=dict)
    """The archive's records by trial number, as written."""

    @classmethod
    def start(cls, input: LadderSweepInput, ordered: bool = False) -> Sim:
        book = open_book(input)
        book.s.ordered = book.s.by_promotion = ordered
        book.s.pareto = ranks_by_pareto(input)
        book.s.brackets = [BracketState(rungs=[int(r) for r in rungs], size=size)
                           for rungs, size in book.scheduler.plan(input.rungs, input.eta, input.n_trials)]
        return cls(book)

    def decisions(self) -> list[Decision]:
        return [*self.archived_decisions, *self.book.s.decisions]

    def run(self, segments: int = 10_000) -> Sim:
        """Play the loop (settle, prune, archive, load parked, start) for at most `segments` segments."""
        book = self.book
        for _ in range(segments):
            book.settle()
            book.doomed_folders(lambda n: f"trial{n}")
            self.write_archive(force=False)
            wanted, where = archive_book.to_load(book, 1)
            if wanted:
                archive_book.load_back(book, [copy.deepcopy(self.archive[n]) for n in wanted], where)
            job = book.next_job()
            if job is None or book.s.paused or book.s.stopping:
                return self
            number, bracket = job
            if number < 0:
                number = book.new_trial(bracket)
            self.segment(book.trials[number])
        return self

    def end(self) -> Sim:
        self.book.finish()
        self.book.doomed_folders(lambda n: f"trial{n}")
        self.write_archive(force=False)
        return self

    def segment(self, trial: TrialState) -> None:
        book = self.book
        if not trial.params:
            trial.params = {"x": trial.number}
            book.decide("propose", trial.number, -1, f"x={trial.number}")
        trial.state = "running"
        trial.checkpoint_dir = f"trial{trial.number}"
        rungs = book.s.brackets[trial.bracket].rungs
        steps = rungs[trial.target]
        score = self.score(trial.number, trial.target)
        metrics = {"val_loss": score, **(self.metrics(trial.number, trial.target) if self.metrics else {})}
        book.on_result(trial, result(steps, score, metrics), steps, rungs[-1], True)

    def write_archive(self, force: bool) -> None:
        """`LadderSweepWorkflow._archive`, with the archive in memory."""
        book, batch = self.book, self.book.input.archive_batch
        if batch <= 0:
            return
        most = DECISIONS_PER_TRIAL * batch
        while True:
            leaving = archive_book.leaving(book)
            if not (leaving or book.s.decisions) or not (force or len(leaving) >= batch
                                                          or len(book.s.decisions) >= most):
                return
            part, decisions = leaving[:batch], book.s.decisions[:most]
            book.s.archive.parts += 1
            self.archive.update((t.number, copy.deepcopy(t)) for t in part)
            self.archived_decisions.extend(decisions)
            archive_book.after_part(book, part, len(decisions), book.s.archive.parts)
