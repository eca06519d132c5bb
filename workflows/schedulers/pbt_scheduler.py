"""Population-based training as a ladder kind (`ladder=pbt`): the population is one bracket of
`ladder.population` members, its rungs the perturbation boundaries (every `perturbation_interval` steps up
to `trainer.max_steps`). PBT here is synchronous: once every live member has reported at a boundary (the
rung is closed), `workflows.schedulers.pbt.Pbt` decides (truncation selection: the bottom quantile exploits
the top, then explores; see that module for the rules and the paper), every member goes on to the next
boundary, and an exploiting member's next segment first copies its source's checkpoint at that step into
its own folder (`copy_checkpoint`, digests verified) and then trains with the explored parameters. Deciding
at closed rungs only makes the decisions a function of the results alone, never of timing, so one seed
gives one outcome at any parallelism (Jaderberg et al. 2017 decide asynchronously; Ray Tune's
`PopulationBasedTraining` too, whose decisions depend on which trial reports first)."""

from __future__ import annotations

import random

from workflows.payloads.records import PbtDecision, PbtMember, PbtStep, TrialState
from workflows.payloads.specs import PbtSpec
from workflows.payloads.sweep import FINAL_STATES, ExtendRequest
from workflows.schedulers.book import SweepBook
from workflows.schedulers.none import NoLadder
from workflows.schedulers.pbt import Pbt

EXTEND_TRIALS = "ladder=pbt trains a fixed population; extend it with --rungs (more steps), not --trials"


def boundaries(interval: int, max_steps: int) -> list[float]:
    """The perturbation boundaries in steps: every `interval` steps, and `max_steps` (the last segment may
    be shorter)."""
    steps = list(range(interval, max_steps, interval))
    return [float(s) for s in [*steps, max_steps]]


def fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def changes(old: dict, new: dict, how: dict[str, str]) -> str:
    """`optim.lr 0.0003 -> 0.00036 (x1.2)` for each explored key."""
    return ", ".join(f"{key} {fmt(old.get(key))} -> {fmt(new[key])} ({how[key]})" for key in how)


class PbtScheduler(NoLadder):
    kind = "pbt"

    def plan(self, rungs: list[float], eta: int, n_trials: int) -> list[tuple[list[float], int]]:
        return [(list(rungs), n_trials)]

    def may_leave(self, book: SweepBook, trial: TrialState) -> bool:
        """Members stay in the state until they are final: every decision reads the whole population."""
        return trial.state in FINAL_STATES

    def refuse_extend(self, request: ExtendRequest) -> str:
        return EXTEND_TRIALS if request.trials else ""

    def decide(self, book: SweepBook, bracket: int, rung: int, waiting: list[int], results: dict[int, float],
               reported: int, closed: bool) -> None:
        b, input = book.s.brackets[bracket], book.input
        if not self.close(b, rung, closed):
            return
        spec = input.pbt or PbtSpec()
        members = [book.trials[n] for n in waiting if n in book.trials]
        population = [PbtMember(number=t.number, step=t.rung_steps[-1], score=results.get(t.number),
                                checkpoint_step=t.rung_steps[-1] if t.checkpoint else -1, params=dict(t.params))
                      for t in members]
        rng = random.Random(f"pbt {input.sampler.seed} {bracket} {rung}")  # str seeds hash the same everywhere
        for d in Pbt(spec, input.space, input.direction).decide(population, rng):
            self.apply(book, d, rung)
        for n in waiting:
            book.promote(n, rung, f"population-based training: every member goes on to {b.rungs[rung + 1]} steps",
                         bracket)

    @staticmethod
    def apply(book: SweepBook, d: PbtDecision, rung: int) -> None:
        """Record a decision; an exploit takes the explored parameters now and copies the source's
        checkpoint when its next segment starts (`TrialState.pending_exploit`)."""
        if d.kind != "exploit":
            book.decide("exploit_skip", d.target, rung, d.reason)
            return
        target = book.trials[d.target]
        target.params = dict(d.new_params)
        target.pending_exploit = PbtStep(step=d.step, source=d.source, params=dict(d.new_params), how=dict(d.how),
                                         source_score=d.source_score)
        book.decide("exploit", d.target, rung,
                    f"member {d.target} ({fmt(d.target_score)}) copies member {d.source} ({fmt(d.source_score)}) "
                    f"at step {d.step}; {changes(d.source_params, d.new_params, d.how)}; {d.reason.split(';')[0]}")
