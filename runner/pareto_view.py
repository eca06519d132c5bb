"""A multi-objective sweep's results as users read them: the Pareto front (a table in the terminal,
sweep.json and the report, a plot in the report), the hypervolume over the steps trained, the trial the
objectives' weights pick, and `results ID --pick N` (the config of front point N).

The front is drawn at one rung step, `front_step`: the highest step at which two or more trials have a
result (so trials trained to different budgets are never compared). Objectives are those of the sweep's
config (`objectives:`), constraints too: an infeasible trial is never on the front nor picked by weights.
The order is `workflows.pareto`'s, the rule the sweep promoted by.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from workflows.objectives import directions, is_multi, vector, violation
from workflows.pareto import oriented, pareto_front, pareto_order, scaled
from workflows.payloads.errors import ConfigError
from workflows.payloads.records import TrialState
from workflows.payloads.specs import ConstraintSpec, ObjectiveSpec
from workflows.payloads.sweep import LadderSweepInput, LadderSweepResult
from workflows.ranking import leaderboard_order
from workflows.schedulers.mo_ranking import pareto_leaderboard


def goals(config: dict[str, Any]) -> tuple[list[ObjectiveSpec], list[ConstraintSpec]]:
    """The sweep's objectives and constraints, from its resolved config."""
    return ([ObjectiveSpec(**o) for o in config.get("objectives") or []],
            [ConstraintSpec(**c) for c in config.get("constraints") or []])


@dataclass
class FrontView:
    step: int
    objectives: list[ObjectiveSpec]
    points: dict[int, list[float]]
    """Trial -> its objectives' values at `step` (every trial with a result there)."""
    violations: dict[int, float]
    front: list[int]
    """The feasible trials no other dominates, by their first objective (best first): the table's rows."""
    order: list[int]
    weighted: int | None = None
    """The trial the objectives' weights pick (None: no weights, or no feasible trial)."""
    hypervolume: list[tuple[int, float]] = field(default_factory=list)
    """(steps trained so far, hypervolume of the feasible results at `step` so far), in the order results came."""

    def as_json(self) -> dict[str, Any]:
        return {"step": self.step, "objectives": [o.metric for o in self.objectives],
                "directions": directions(self.objectives),
                "front": [{"point": i, "trial": n, **dict(zip([o.metric for o in self.objectives], self.points[n],
                                                               strict=True))}
                          for i, n in enumerate(self.front, 1)],
                "infeasible": sorted(n for n, v in self.violations.items() if v > 0),
                "weighted_pick": self.weighted, "hypervolume": [list(p) for p in self.hypervolume]}


def leader_order(trials: list[TrialState], config: dict[str, Any]) -> list[int]:
    """The leaderboard's order, as the sweep ranked its trials: by `workflows.ranking.leaderboard_order` for
    one objective without constraints, else by `mo_ranking.pareto_leaderboard` (feasible first, the highest
    rung step reached, then Pareto order)."""
    objectives, constraints = goals(config)
    if not (is_multi(objectives) or constraints):
        return leaderboard_order(trials, config.get("direction", "minimize"))
    trainer = SimpleNamespace(monitor=(config.get("trainer") or {}).get("monitor", "val_loss"))
    ranked = SimpleNamespace(kind=(config.get("ladder") or {}).get("kind", "sha"), objectives=objectives,
                             constraints=constraints, direction=config.get("direction", "minimize"),
                             base=SimpleNamespace(trainer=trainer))  # what the ranking reads of a sweep's input
    return pareto_leaderboard(cast(LadderSweepInput, ranked), trials)


def front_step(trials: list[TrialState]) -> int:
    """The highest rung step at which two or more trials have a result (else the highest with one; 0: none)."""
    counts: dict[int, int] = {}
    for t in trials:
        for step in set(t.rung_steps[:len(t.rung_metrics)]):
            counts[step] = counts.get(step, 0) + 1
    shared = [step for step, count in counts.items() if count >= 2]
    return max(shared or counts or [0])


def metrics_at(trial: TrialState, step: int) -> dict[str, float] | None:
    for at, metrics in zip(trial.rung_steps, trial.rung_metrics, strict=False):
        if at == step and metrics:
            return metrics
    return None


def front_view(result: LadderSweepResult, config: dict[str, Any]) -> FrontView | None:
    """The front of a multi-objective sweep (its hypervolume over the steps trained too); None for a sweep
    with one objective."""
    objectives, constraints = goals(config)
    view = front_of(result.trials, objectives, constraints)
    if view is not None:
        view.hypervolume = hypervolume_over_steps(result, view)
    return view


def front_of(trials: list[TrialState], objectives: list[ObjectiveSpec],
             constraints: list[ConstraintSpec]) -> FrontView | None:
    if not is_multi(objectives):
        return None
    step = front_step(trials)
    recorded = {t.number: m for t in trials if t.state != "failed" and (m := metrics_at(t, step))}
    points = {n: vector(objectives, m) for n, m in recorded.items()}
    violations = {n: violation(constraints, m) for n, m in recorded.items()}
    order = pareto_order(points, directions(objectives), violations)
    front = sorted(pareto_front(points, directions(objectives), violations),
                   key=lambda n: (oriented(points[n], directions(objectives))[0], n))
    view = FrontView(step=step, objectives=objectives, points=points, violations=violations, front=front, order=order)
    view.weighted = weighted_pick(view)
    return view


def front_line(trials: list[TrialState], objectives: list[ObjectiveSpec], constraints: list[ConstraintSpec]) -> str:
    """`status`'s word on a multi-objective sweep's front so far ('' for one objective)."""
    view = front_of(trials, objectives, constraints)
    if view is None or not view.points:
        return ""
    infeasible = sum(1 for v in view.violations.values() if v > 0)
    return (f"Pareto front at step {view.step}: trials {', '.join(map(str, view.front)) or 'none'} of "
            f"{len(view.points)}" + (f" ({infeasible} infeasible)" if infeasible else ""))


def _unit(view: FrontView, numbers: list[int]) -> dict[int, tuple[float, ...]]:
    """Each trial's objectives scaled to [0, 1] over `numbers`, 0 the best end of each (minimised)."""
    dirs = directions(view.objectives)
    return scaled({n: oriented(view.points[n], dirs) for n in numbers})


def usable(view: FrontView) -> list[int]:
    """The feasible trials with every objective finite."""
    return [n for n in view.order if view.violations.get(n, 0.0) <= 0 and all(map(math.isfinite, view.points[n]))]


def weighted_pick(view: FrontView) -> int | None:
    """The feasible trial with the best weighted sum of its objectives, each scaled to [0, 1] over the
    feasible trials (1 the best end); ties to the lower trial number. None without weights."""
    weights = [o.weight for o in view.objectives]
    numbers = usable(view)
    if not any(weights) or not numbers:
        return None
    unit = _unit(view, numbers)
    return max(numbers, key=lambda n: (sum(w * (1 - u) for w, u in zip(weights, unit[n], strict=True)), -n))


def hypervolume(points: Sequence[Sequence[float]]) -> float:
    """The hypervolume dominated by minimised `points` in [0, 1]^d up to the reference point (1.1, ...)."""
    if not points:
        return 0.0
    import numpy as np
    from optuna._hypervolume import compute_hypervolume  # Optuna's exact WFG / 2-D sweep

    return float(compute_hypervolume(np.array(points, dtype=float), np.full(len(points[0]), 1.1)))


def hypervolume_over_steps(result: LadderSweepResult, view: FrontView) -> list[tuple[int, float]]:
    """The hypervolume of the feasible results at the front's step after each rung result, in the decision
    log's order, against the steps trained by then (each result's segment: its step minus the previous
    rung's). Objectives are scaled over every feasible result at that step, so the curve only rises."""
    numbers = usable(view)
    if not numbers:
        return []
    unit = _unit(view, numbers)
    by_number = {t.number: t for t in result.trials}
    trained, seen, curve = 0, [], []
    for d in result.decisions:
        trial = by_number.get(d.trial)
        if d.kind != "rung_result" or trial is None or d.rung >= len(trial.rung_steps):
            continue
        trained += trial.rung_steps[d.rung] - (trial.rung_steps[d.rung - 1] if d.rung > 0 else 0)
        if trial.rung_steps[d.rung] == view.step and d.trial in unit and d.trial not in seen:
            seen.append(d.trial)
            curve.append((trained, round(hypervolume([unit[n] for n in seen]), 6)))
    return curve


def front_rows(view: FrontView, params: dict[int, str]) -> list[dict[str, Any]]:
    """The front's table: point number, trial, each objective, its parameters; the weighted pick marked."""
    return [{"point": i, "trial": n, **{o.metric: round(v, 6) for o, v in zip(view.objectives, view.points[n],
                                                                              strict=True)},
             "params": params.get(n, ""), "pick": "weighted" if n == view.weighted else ""}
            for i, n in enumerate(view.front, 1)]


def picked(view: FrontView, pick: str) -> int:
    """The trial `results --pick` names: front point N (1-based, the table's `point`) or `weighted`."""
    if pick == "weighted":
        if view.weighted is None:
            raise ConfigError("--pick weighted, but the sweep's objectives set no weight (objectives[].weight)")
        return view.weighted
    if not pick.isdigit() or not 1 <= int(pick) <= len(view.front):
        raise ConfigError(f"--pick is '{pick}', but must be a front point 1..{len(view.front)} or 'weighted'")
    return view.front[int(pick) - 1]


def print_front(result: LadderSweepResult, config: dict[str, Any], params: dict[int, str]) -> FrontView | None:
    """The front in the terminal (a table, the weighted pick, how to pick a point); None for one objective."""
    from rich.table import Table

    from runner.terminal import say, show

    view = front_view(result, config)
    if view is None:
        return None
    if not view.front:
        say(f"Pareto front at step {view.step}: no feasible trial with a result there")
        return view
    table = Table(title=f"Pareto front at step {view.step}: {len(view.front)} of {len(view.points)} trials")
    rows = front_rows(view, params)
    for column in rows[0]:
        table.add_column(column, no_wrap=column == "params")
    for row in rows:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
    show(table)
    infeasible = sorted(n for n, v in view.violations.items() if v > 0)
    if infeasible:
        say(f"infeasible (constraints not met): trials {', '.join(map(str, infeasible))}")
    if view.weighted is not None:
        say(f"weighted pick: trial {view.weighted}")
    say("a front point's config: train-tune results ID --pick N (or --pick weighted)")
    return view


def write_pick(output_dir, workflow_id: str, result: LadderSweepResult, config: dict[str, Any], pick: str,
               config_repo: dict | None = None):
    """`results ID --pick N|weighted`: front point N's (or the weighted pick's) config as a single run, beside
    best_config.yaml (`runner.best_config`). ConfigError (one line, exit 2) for a sweep with one objective or a bad N."""
    from runner.best_config import write_best_config

    view = front_view(result, config)
    if view is None:
        raise ConfigError("--pick chooses a point of a multi-objective sweep's Pareto front, but this sweep has one "
                         "objective: its best trial's config is best_config.yaml")
    number = picked(view, pick)
    by_number = {t.number: t for t in result.trials}
    label = "weighted pick" if pick == "weighted" else f"Pareto front point {pick}: trial"
    return write_best_config(output_dir, workflow_id, config, by_number[number], config_repo, by_number,
                             name=f"front_{pick}_config.yaml", title=label)
