"""Which finished trials the sampler learns from: a bounded window, so proposing trial n costs the same
at n = 50 and at n = 5,000; and, for `sampler.deterministic` sweeps, only the trials numbered below
n - `sampler.lag`, each through its first-rung result (the one every trial reports first, whatever else
has run since), waiting for those results if they are not in yet (`proposal_ready`): a fixed lag, not the
parallelism, so that the sweep is the same at parallelism 1, 2 or 4 (pure; safe in workflow code)."""

from __future__ import annotations

from workflows.payloads.messages import FinishedTrial
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import FINAL_STATES
from workflows.ranking import nan_last
from workflows.schedulers.book import SweepBook

LEARNS_FROM_HISTORY = ("tpe",)
"""Samplers that use finished trials; random, QMC and grid depend only on (seed, trial number)."""


def rank_key(trial: FinishedTrial, direction: str) -> tuple:
    """Best first, the way Optuna ranks mixed trials: complete before pruned, a pruned trial that got
    further (higher step) before one stopped earlier, then by value (NaN last), then by number."""
    value = trial.value if trial.value is not None else float("nan")
    return (trial.state != "complete", -trial.step, *nan_last(value, direction), trial.number)


def sampler_window(trials: list[FinishedTrial], limit: int, direction: str) -> list[FinishedTrial]:
    """At most `limit` trials: the best ceil(limit / 4) by `rank_key`, then the most recent (by number)
    of the rest, ordered by number.

    TPE splits the trials it knows into the best gamma(n) = min(ceil(0.1 n), 25) ("below", which shapes
    l(x)) and the rest ("above", g(x)), and proposes the candidate maximising l(x) / g(x). With
    limit >= 100 the window always holds the 25 best trials, so l(x) is the one the full history gives;
    g(x) is estimated from the other best and the most recent trials instead of from all of them.
    """
    if len(trials) <= limit:
        return sorted(trials, key=lambda t: t.number)
    best = sorted(trials, key=lambda t: rank_key(t, direction))[:-(-limit // 4)]
    chosen = {t.number for t in best}
    recent = sorted((t for t in trials if t.number not in chosen), key=lambda t: -t.number)[:limit - len(best)]
    return sorted([*best, *recent], key=lambda t: t.number)


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
    return all(k not in trials or trials[k].metrics or trials[k].state in FINAL_STATES for k in range(number - lag))


def learned(book: SweepBook, trial: TrialState) -> FinishedTrial:
    """What the sampler learns from a trial: its first result when deterministic, else its latest (`finished`)."""
    if not book.s.ordered:
        return finished(trial)
    return first_result(trial, len(book.s.brackets[trial.bracket].rungs) == 1)


def proposal_history(book: SweepBook, number: int) -> list[FinishedTrial]:
    """What trial `number` learns from: the sampler's window over the archived trials it remembers and the
    trials in the state with a result (deterministic: only those below number - lag; see `proposal_ready`)."""
    sampler = book.input.sampler
    if sampler.name not in LEARNS_FROM_HISTORY:
        return []
    known = [*book.s.sampler_memory, *(learned(book, t) for t in book.trials.values() if t.metrics)]
    if book.s.ordered:
        known = [f for f in known if f.number < number - sampler.lag]
    return sampler_window(known, sampler.max_history, book.input.direction)


def remember(book: SweepBook, known: list[FinishedTrial]) -> list[FinishedTrial]:
    """The sampler's memory of archived trials (`known`): its window over them. Deterministic: the window
    only over the trials below every later proposal's cutoff (the lowest trial still to propose, minus the
    lag), the others kept whole, so that a proposal's window over memory and state is the one it would take
    over every trial (as if none had been archived), whatever was archived when."""
    sampler, direction = book.input.sampler, book.input.direction
    if not book.s.ordered:
        return sampler_window(known, sampler.max_history, direction)
    cut = min([t.number for t in book.trials.values() if not t.params and t.state not in FINAL_STATES],
              default=book.next_number()) - sampler.lag
    low = sampler_window([f for f in known if f.number < cut], sampler.max_history, direction)
    return sorted([*low, *(f for f in known if f.number >= cut)], key=lambda f: f.number)
