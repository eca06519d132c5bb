"""The rung probe (`ladder.probe_trials`): where the ladder starts, measured by the sweep itself.

A ladder promotes on a low rung's ranking, which is worth something only where that rung ranks trials as
the top rung would. Where good configurations start slowly (a learning rate that needs its warmup, a
problem whose low fidelities mislead), the first rungs rank them low and stop them, and the sweep keeps
promoting fast starters. Hyperband hedges by running brackets that start higher; the probe measures
instead, on trials no rung has chosen (so their values span the whole space, unlike the survivors the
`results` warning judges, `runner.rung_order`):

1. trials 0 .. k-1 (k = `probe_trials`) form bracket 0, over the rungs of the kind's most exploratory
   bracket, and go up every rung unpruned (`SweepBook.settle` promotes every trial of a probe bracket);
2. once all k have ended (completed, failed, stopped), for each rung r below the top,
   rho_r = Spearman(values at r, values at the top) over the probe trials with finite values at both
   (undefined, as when a rung's values are all equal, counts as no agreement);
3. the ladder starts at the first rung r with rho_r >= `probe_agreement` (the top, i.e. no pruning, if
   none does): the other n_trials - k trials fill the kind's brackets planned over rungs r .. top
   (`Scheduler.plan`). With fewer than 3 probe trials at the top there is nothing to judge, and the ladder
   starts at its first rung as configured.

The rule reads only the probe trials' results, never their order or timing, so a seeded sweep in ordered
mode (`sampler.deterministic`) decides the same at any parallelism. The probe's trials are the sweep's
own: they count towards n_trials, the sampler learns from their full trainings, and the best of them can
win. Its cost is k full trainings; Spearman's sampling error is about 1 / sqrt(k - 1), so k of 6-10 tells
a rung that ranks like the top (rho ~0.9) from one that does not (rho ~0.2) most of the time.
The trade-off is Hyperband's (Li et al., "Hyperband", JMLR 2018): how aggressively to stop early pays
only as far as low budgets predict high ones; Hyperband hedges across brackets, this probe estimates it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from workflows.ladder import bracket_templates
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import FINAL_STATES, BracketState, LadderSweepInput, RungProbe
from workflows.rank_correlation import spearman
from workflows.schedulers.book import SweepBook

PATCH = "rung-probe"
"""`workflow.patched` id of planning a probe bracket first (sweeps with `probe_trials`)."""
MIN_TOPS = 3
"""Fewer probe trials with a finite top-rung value say nothing about a ranking."""


def probe_budgets(input: LadderSweepInput) -> list[float]:
    """The probe's rungs in the ladder's unit: those of the kind's most exploratory bracket (the runner's
    checks, start line and step plan read them here too)."""
    return bracket_templates(input.kind, input.rungs, input.eta, 1)[0][0]


def plan_probe(book: SweepBook, to_steps: Callable[[list[float]], list[int]]) -> list[BracketState]:
    """The sweep's first bracket: `probe_trials` trials over every rung, unpruned."""
    book.s.probe = RungProbe()
    return [BracketState(rungs=to_steps(probe_budgets(book.input)), size=book.input.probe_trials, probe=True)]


def probing(book: SweepBook) -> bool:
    """The probe has not decided yet (the ladder's brackets are not planned)."""
    return book.s.probe is not None and book.s.probe.first_rung < 0


def holds(book: SweepBook, trial: TrialState) -> bool:
    """A probe trial's record stays in the state until the probe has decided (`archive_book.leaving`)."""
    return probing(book) and book.s.brackets[trial.bracket].probe


def agreement(trials: list[TrialState], top: int) -> tuple[list[float], int]:
    """Per rung below `top`, Spearman's rho of the trials' values there with theirs at `top` (NaN where
    undefined), and how many trials have a finite value at the top."""
    reached = [t for t in trials if len(t.metrics) > top and math.isfinite(t.metrics[top])]
    rhos = []
    for rung in range(top):
        pairs = [t for t in reached if math.isfinite(t.metrics[rung])]
        rho = spearman([t.metrics[rung] for t in pairs], [t.metrics[top] for t in pairs])
        rhos.append(math.nan if rho is None else rho)
    return rhos, len(reached)


def first_rung(rhos: list[float], tops: int, threshold: float) -> int:
    """The rung the ladder starts at: the first whose rho reaches `threshold` (NaN never does), else the
    top (len(rhos)); 0 when fewer than MIN_TOPS trials reached the top (nothing to judge)."""
    if tops < MIN_TOPS:
        return 0
    return next((r for r, rho in enumerate(rhos) if rho >= threshold), len(rhos))


def decide(book: SweepBook, to_steps: Callable[[list[float]], list[int]]) -> None:
    """Once every probe trial has ended: fix the ladder's first rung and plan the other trials' brackets
    from it (nothing before then, or after)."""
    s, input = book.s, book.input
    if not probing(book):
        return
    b = s.brackets[0]
    members = book.members(0)
    if len(b.proposed) + b.archived_trials < b.size or any(t.state not in FINAL_STATES for t in members):
        return
    top = len(b.rungs) - 1
    rhos, tops = agreement(members, top)
    first = first_rung(rhos, tops, input.probe_agreement)
    assert s.probe is not None
    s.probe.first_rung, s.probe.agreement = first, rhos
    s.brackets.extend(ladder_brackets(book, input.n_trials - b.size, to_steps))
    book.decide("probe", -1, first, detail(rhos, tops, first, b.rungs, input.probe_agreement))


def ladder_brackets(book: SweepBook, trials: int, to_steps: Callable[[list[float]], list[int]]) -> list[BracketState]:
    """The brackets of `trials` more trials (`Scheduler.plan`): over the configured rungs, or, once a probe has
    decided, from its first rung (a probe's rungs are the kind's most exploratory bracket's); the rungs
    `extend` added so far on top."""
    s, input = book.s, book.input
    first = s.probe.first_rung if s.probe is not None else 0
    budgets = probe_budgets(input) if s.probe is not None else list(input.rungs)
    if first >= len(budgets):  # it starts at a rung an `extend` added: one bracket from there
        return [BracketState(rungs=s.extra_rungs[first - len(budgets):], size=trials)]
    return [BracketState(rungs=to_steps(rungs) + s.extra_rungs, size=size)
            for rungs, size in book.scheduler.plan(budgets[first:], input.eta, trials)]


def detail(rhos: list[float], tops: int, first: int, steps: list[int], threshold: float) -> str:
    """The `probe` decision's words: each rung's agreement and where the ladder starts."""
    shown = ", ".join(f"{s} steps {'n/a' if math.isnan(r) else f'{r:+.2f}'}" for s, r in zip(steps, rhos, strict=False))
    if tops < MIN_TOPS:
        return (f"rung probe: {tops} probe trials reached the top rung ({steps[-1]} steps), fewer than "
                f"{MIN_TOPS}; the ladder starts at its first rung ({steps[0]} steps) as configured")
    where = f"the ladder starts at {steps[first]} steps" if first < len(rhos) else (
        f"no rung below the top agrees, so the other trials train to {steps[-1]} steps unpruned")
    return (f"rung probe: Spearman with the top ({steps[-1]} steps) over {tops} probe trials: {shown}; "
            f"needed >= {threshold:g}: {where}")
