"""Which finished trials the sampler learns from: a bounded window, so proposing trial n costs the same
at n = 50 and at n = 5,000; and, for `sampler.deterministic` sweeps, only the trials numbered below
n - `sampler.lag`, each through its first-rung result (the one every trial reports first, whatever else
has run since), waiting for those results if they are not in yet (`proposal_ready`): a fixed lag, not the
parallelism, so that the sweep is the same at parallelism 1, 2 or 4 (pure; safe in workflow code)."""

from __future__ import annotations

from collections.abc import Sequence

from workflows import objectives
from workflows.pareto import pareto_ranks
from workflows.payloads.messages import FinishedTrial
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import FINAL_STATES
from workflows.ranking import nan_last
from workflows.schedulers.book import SweepBook
from workflows.schedulers.mo_ranking import rung_metrics, rung_vector, sampler_directions

LEARNS_FROM_HISTORY = ("tpe", "nsga2")
"""Samplers that use finished trials; random, QMC and grid depend only on (seed, trial number)."""


def rank_key(trial: FinishedTrial, direction: str, position: dict[int, float] | None = None) -> tuple:
    """Best first, the way Optuna ranks mixed trials: complete before pruned, a pruned trial that got
    further (higher step) before one stopped earlier, then by value (NaN last), then by number. `position`:
    each trial's place in Pareto order (`pareto_positions`), ranked instead of the value."""
    value = trial.value if trial.value is not None else float("nan")
    if position is not None:
        value, direction = position[trial.number], "minimize"
    return (trial.state != "complete", -trial.step, *nan_last(value, direction), trial.number)


def pareto_positions(trials: list[FinishedTrial], directions: Sequence[str]) -> dict[int, float]:
    """Each trial's place in `workflows.pareto` order over its `values` (one direction: its `value`), its
    constraints' positive parts summed as its violation; NaN for a trial without a (finite) result."""
    nan = float("nan")
    vectors = {t.number: (list(t.values) if len(directions) > 1 else [nan if t.value is None else t.value])
               or [nan] * len(directions) for t in trials}
    violations = {t.number: sum(c for c in t.constraints if c > 0) for t in trials}
    return pareto_ranks(vectors, directions, violations)


def sampler_window(trials: list[FinishedTrial], limit: int, direction: str,
                   pareto: Sequence[str] = ()) -> list[FinishedTrial]:
    """At most `limit` trials: the best ceil(limit / 4) by `rank_key`, then the most recent (by number)
    of the rest, ordered by number. `pareto`: a sweep ranked by vectors, in these directions
    (`window_directions`): "best" is then Pareto order (`pareto_positions`).

    TPE splits the trials it knows into the best gamma(n) = min(ceil(0.1 n), 25) ("below", which shapes
    l(x)) and the rest ("above", g(x)), and proposes the candidate maximising l(x) / g(x). With
    limit >= 100 the window always holds the 25 best trials, so l(x) is the one the full history gives;
    g(x) is estimated from the other best and the most recent trials instead of from all of them.
    """
    if len(trials) <= limit:
        return sorted(trials, key=lambda t: t.number)
    position = pareto_positions(trials, pareto) if pareto else None
    best = sorted(trials, key=lambda t: rank_key(t, direction, position))[:-(-limit // 4)]
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
    """What the sampler learns from a trial: its first result when deterministic, else its latest (`finished`);
    ranked by vectors, with its objective vector and constraint values at that rung (`with_vector`)."""
    one_rung = len(book.s.brackets[trial.bracket].rungs) == 1
    known = first_result(trial, one_rung) if book.s.ordered else finished(trial)
    return with_vector(book, trial, known) if book.s.pareto else known


def with_vector(book: SweepBook, trial: TrialState, known: FinishedTrial) -> FinishedTrial:
    """`known` with the trial's objective vector (multi-objective) and constraint values at the rung it
    was learned at (its first or its latest)."""
    input = book.input
    rung = 0 if book.s.ordered else len(trial.metrics) - 1
    if sampler_directions(input):
        known.values = rung_vector(input, trial, rung)
    known.constraints = objectives.sampler_constraints(input.constraints, rung_metrics(trial, rung))
    return known


def proposal_history(book: SweepBook, number: int) -> list[FinishedTrial]:
    """What trial `number` learns from: the sampler's window over the archived trials it remembers and the
    trials in the state with a result (deterministic: only those below number - lag; see `proposal_ready`)."""
    sampler = book.input.sampler
    if sampler.name not in LEARNS_FROM_HISTORY:
        return []
    known = [*book.s.sampler_memory, *(learned(book, t) for t in book.trials.values() if t.metrics)]
    if book.s.ordered:
        known = [f for f in known if f.number < number - sampler.lag]
    return sampler_window(known, sampler.max_history, book.input.direction, window_directions(book))


def window_directions(book: SweepBook) -> list[str]:
    """`sampler_window`'s `pareto`: the directions a sweep ranked by vectors ranks in, else []."""
    if not book.s.pareto:
        return []
    return sampler_directions(book.input) or [book.input.direction]


def remember(book: SweepBook, known: list[FinishedTrial]) -> list[FinishedTrial]:
    """The sampler's memory of archived trials (`known`): its window over them. Deterministic: the window
    only over the trials below every later proposal's cutoff (the lowest trial still to propose, minus the
    lag), the others kept whole, so that a proposal's window over memory and state is the one it would take
    over every trial (as if none had been archived), whatever was archived when."""
    sampler, direction = book.input.sampler, book.input.direction
    if not book.s.ordered:
        return sampler_window(known, sampler.max_history, direction, window_directions(book))
    cut = min([t.number for t in book.trials.values() if not t.params and t.state not in FINAL_STATES],
              default=book.next_number()) - sampler.lag
    low = sampler_window([f for f in known if f.number < cut], sampler.max_history, direction, window_directions(book))
    return sorted([*low, *(f for f in known if f.number >= cut)], key=lambda f: f.number)
