"""Rung decisions and the leaderboard of a sweep ranked by several objectives or by outcome constraints
(`SweepState.pareto`), as MO-ASHA makes them (Schmucker et al., "Multi-objective Asynchronous Successive
Halving", 2021): the results at a rung become positions in `workflows.pareto`'s order (feasible first,
then non-dominated fronts, an epsilon-net inside a front), and sha, asha and hyperband promote the top
floor(n / eta) of those positions, minimised (`SweepBook.ranking_direction`), exactly as they promote by
one metric otherwise. A trial's vector at rung r is its objectives' values in `TrialState.rung_metrics[r]`
(one objective with constraints: its monitored metric, `direction`-wise); its violation is
`workflows.objectives.violation` of the same metrics (pure; safe in workflow code).

Such a sweep keeps every trial's record in its state (`archive_book.leaving` archives none of them): the
archive's entries (`RungArchive`, `Parked`) hold one number per result, and any later decision (a rung
still open, one that `extend` reopens) ranks the whole vectors. The runner sizes `n_trials` to fit
(`runner.sweep_size.state_bytes`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from workflows import objectives as obj
from workflows.pareto import fronts, oriented, pareto_order
from workflows.payloads.records import TrialState
from workflows.payloads.sweep import LadderSweepInput

PARETO_KINDS = ("sha", "asha", "hyperband", "none")
"""Ladder kinds that rank by `workflows.pareto` when a sweep has objectives or constraints (pbt exploits by
one metric; the resolver refuses both for it)."""


def ranks_by_pareto(input: LadderSweepInput) -> bool:
    """Whether a sweep asks to be ranked by objective vectors: several objectives, or any constraint."""
    return input.kind in PARETO_KINDS and (obj.is_multi(input.objectives) or bool(input.constraints))


def names(input: LadderSweepInput) -> list[str]:
    """The metrics a vector holds, in order."""
    return [o.metric for o in input.objectives] if obj.is_multi(input.objectives) else [input.base.trainer.monitor]


def directions(input: LadderSweepInput) -> list[str]:
    return obj.directions(input.objectives) if obj.is_multi(input.objectives) else [input.direction]


def sampler_directions(input: LadderSweepInput) -> list[str]:
    """`SuggestRequest.directions`: the objectives' directions of a multi-objective sweep, else [] (one
    objective: the request's `direction`)."""
    return obj.directions(input.objectives) if obj.is_multi(input.objectives) else []


def rung_metrics(trial: TrialState, rung: int) -> dict[str, float]:
    return trial.rung_metrics[rung] if rung < len(trial.rung_metrics) else {}


def rung_vector(input: LadderSweepInput, trial: TrialState, rung: int) -> list[float]:
    """The trial's objective vector at `rung` (NaN where a metric is missing: it ranks last)."""
    if obj.is_multi(input.objectives):
        return obj.vector(input.objectives, rung_metrics(trial, rung))
    return [trial.metrics[rung] if rung < len(trial.metrics) else math.nan]


def rung_violation(input: LadderSweepInput, trial: TrialState, rung: int) -> float:
    return obj.violation(input.constraints, rung_metrics(trial, rung)) if input.constraints else 0.0


def ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


class Ranking(dict[int, float]):
    """The results at one rung as positions in Pareto order (trial number -> 0 for the best; NaN for a vector
    holding NaN), with what each position stands for, so decisions can say it (`standing`)."""

    def __init__(self, input: LadderSweepInput, vectors: dict[int, list[float]],
                 metrics: dict[int, dict[str, float]]) -> None:
        dirs = directions(input)
        violations = {n: obj.violation(input.constraints, metrics[n]) if input.constraints else 0.0 for n in vectors}
        order = pareto_order(vectors, dirs, violations)
        super().__init__((n, math.nan if any(map(math.isnan, vectors[n])) else float(i)) for i, n in enumerate(order))
        self.names, self.vectors, self.metrics, self.violations = names(input), vectors, metrics, violations
        self.constraints = input.constraints
        feasible = {n: oriented(v, dirs) for n, v in vectors.items()
                    if not any(map(math.isnan, v)) and violations.get(n, 0.0) <= 0}
        self.front = {n: i + 1 for i, layer in enumerate(fronts(feasible)) for n in layer}

    def shown(self, number: int) -> str:
        """The trial's objective values, e.g. 'val_accuracy 0.8125, latency_ms 2.104'."""
        return ", ".join(f"{name} {value:.4g}" for name, value in zip(self.names, self.vectors[number], strict=True))

    def broken(self, number: int) -> str:
        """The constraints `number`'s metrics break at this rung, e.g. 'latency_ms 6.2 > max 5'."""
        out = []
        metrics = self.metrics[number]
        for c in self.constraints:
            value = metrics.get(c.metric, math.nan)
            if math.isnan(value):
                out.append(f"{c.metric} not measured")
            elif c.max is not None and value > c.max:
                out.append(f"{c.metric} {value:.4g} > max {c.max:g}")
            elif c.min is not None and value < c.min:
                out.append(f"{c.metric} {value:.4g} < min {c.min:g}")
        return "; ".join(out) or f"violation {self.violations.get(number, 0.0):.3g}"

    def standing(self, number: int) -> str:
        """Where `number` stands, for a decision's detail: 'front 1, 2nd of 5 at the rung (val_accuracy 0.81,
        latency_ms 2.1)', or 'infeasible (latency_ms 6.2 > max 5), 4th of 5 ...'."""
        position = self[number]
        where = "no result" if math.isnan(position) else ordinal(int(position) + 1)
        if number in self.front:
            head = f"front {self.front[number]}, {where}"
        elif math.isnan(position):
            head = where
        else:
            head = f"infeasible ({self.broken(number)}), {where}"
        return f"{head} of {len(self)} at the rung ({self.shown(number)})"


def rank(input: LadderSweepInput, trials: dict[int, TrialState], rung: int, results: dict[int, float]) -> Ranking:
    """The trials of `results` (numbers; their scalar values are not used) ranked by their vectors at `rung`.
    Every one is in `trials`: such a sweep archives no record (see the module's docstring); one that is not
    would rank last."""
    vectors = {n: rung_vector(input, trials[n], rung) if n in trials else [math.nan] * len(names(input))
               for n in results}
    metrics = {n: rung_metrics(trials[n], rung) if n in trials else {} for n in results}
    return Ranking(input, vectors, metrics)


def standing(results: dict[int, float], number: int) -> str:
    """`Ranking.standing` followed by ': ' when the results are ranked by vectors, else '' (asha's details)."""
    return f"{results.standing(number)}: " if isinstance(results, Ranking) else ""


def last_rung(trial: TrialState) -> int:
    return len(trial.metrics) - 1


def pareto_leaderboard(input: LadderSweepInput, trials: Sequence[TrialState]) -> list[int]:
    """Trials with a result, best first: feasible ones with a finite vector at their latest rung before any
    other (an infeasible trial is never first while a feasible one exists), then the highest rung step
    reached, then Pareto order among the trials that reached that step, then the trial number."""
    scored = [t for t in trials if t.metrics and t.state != "failed"]
    by_steps: dict[int, list[TrialState]] = {}
    for t in scored:
        by_steps.setdefault(t.rung_steps[-1], []).append(t)
    position: dict[int, int] = {}
    for group in by_steps.values():
        order = pareto_order({t.number: rung_vector(input, t, last_rung(t)) for t in group}, directions(input),
                             {t.number: rung_violation(input, t, last_rung(t)) for t in group})
        position.update((n, i) for i, n in enumerate(order))

    def good(t: TrialState) -> bool:
        return rung_violation(input, t, last_rung(t)) <= 0 and not any(
            map(math.isnan, rung_vector(input, t, last_rung(t))))

    return [t.number for t in sorted(scored, key=lambda t: (not good(t), -t.rung_steps[-1], position[t.number],
                                                            t.number))]


def best_value(input: LadderSweepInput, trials: Sequence[TrialState]) -> float | None:
    """What the sweep's BEST_METRIC search attribute shows: the first objective (one objective: the monitored
    metric) of the leaderboard's first trial at its latest rung, when that trial is feasible; None (the
    attribute is left as it is) while no trial is."""
    order = pareto_leaderboard(input, trials)
    if not order:
        return None
    by_number = {t.number: t for t in trials}
    leader = by_number[order[0]]
    vector = rung_vector(input, leader, last_rung(leader))
    if rung_violation(input, leader, last_rung(leader)) > 0 or not math.isfinite(vector[0]):
        return None
    return vector[0]
