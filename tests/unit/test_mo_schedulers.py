"""Rung decisions of sweeps ranked by several objectives or by constraints (`workflows.schedulers.mo_ranking`),
without a server (`tests.unit.sweep_sim`): sha, asha (both modes) and hyperband promote by Pareto order, an
infeasible trial never goes on over a feasible one, one objective with constraints nobody breaks decides as
the plain sweep does, and such a sweep archives no trial record."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from tests.unit.sweep_sim import Sim, sweep_input
from workflows.pareto import pareto_order
from workflows.payloads.records import TrialState
from workflows.payloads.specs import ConstraintSpec, ObjectiveSpec
from workflows.sampler_history import proposal_history
from workflows.schedulers import mo_ranking

OBJECTIVES = [ObjectiveSpec("val_accuracy", "maximize"), ObjectiveSpec("latency_ms", "minimize")]
DIRECTIONS = ["maximize", "minimize"]
ACCURACY = [0.50, 0.90, 0.60, 0.85, 0.40, 0.88, 0.30, 0.70, 0.89]
LATENCY = [1.0, 9.0, 3.0, 2.0, 0.5, 8.0, 5.0, 4.0, 10.0]
"""Front 1 is {0, 1, 3, 4, 5}; trial 8 has the second best accuracy but trial 1 dominates it."""


def metrics(number: int, rung: int) -> dict[str, float]:
    return {"val_accuracy": ACCURACY[number % 9] + rung / 100, "latency_ms": LATENCY[number % 9]}


def mo_sim(kind: str, n_trials: int, rungs: list[float], ordered: bool = False,
           constraints: list[ConstraintSpec] | None = None, **kwargs) -> Sim:
    input = sweep_input(kind, n_trials, rungs, **kwargs)
    input.objectives, input.constraints = OBJECTIVES, constraints or []
    sim = Sim.start(input, ordered=ordered)
    sim.metrics = metrics
    return sim


def vectors(numbers, rung=0) -> dict[int, list[float]]:
    return {n: [metrics(n, rung)["val_accuracy"], metrics(n, rung)["latency_ms"]] for n in numbers}


def decided(sim: Sim, kind: str, rung: int) -> list[int]:
    return [d.trial for d in sim.decisions() if d.kind == kind and d.rung == rung]


def test_sha_promotes_by_pareto_order_and_says_where_each_trial_stands():
    sim = mo_sim("sha", 9, [1, 3, 9]).run().end()
    assert sim.book.s.pareto and sim.book.ranking_direction == "minimize"
    best = pareto_order(vectors(range(9)), DIRECTIONS)[:3]
    assert sorted(decided(sim, "promote", 0)) == sorted(best)
    assert 8 not in best and 8 in decided(sim, "stop", 0)  # second best accuracy, dominated by trial 1
    first = next(d for d in sim.decisions() if d.kind == "promote" and d.trial == 1)
    assert first.detail == "front 1, 1st of 9 at the rung (val_accuracy 0.9, latency_ms 9); top 3 of 9 go on to 3 steps"
    dominated = next(d for d in sim.decisions() if d.kind == "stop" and d.trial == 6)
    assert dominated.detail.startswith("front 3, ")  # 6 is dominated by 7, which 3 dominates
    assert sim.book.leader_order()[0] == sim.book.leaderboard()[0].number == decided(sim, "promote", 1)[0]


@pytest.mark.parametrize("ordered", [False, True])
def test_asha_promotes_the_pareto_top_of_what_has_reported(ordered):
    sim = mo_sim("asha", 9, [1, 3, 9], ordered=ordered).run().end()
    seen: list[int] = []
    for d in sim.decisions():
        if d.kind == "rung_result" and d.rung == 0:
            seen.append(d.trial)
        if d.kind == "promote" and d.rung == 0:  # legal when made: in the top floor(n/eta) of the n so far
            assert d.trial in pareto_order(vectors(seen), DIRECTIONS)[:len(seen) // 3], (d, seen)
            assert d.detail.startswith("front 1, ") and "in the top 1/3 of" in d.detail
    assert len(decided(sim, "promote", 0)) == 3 and 8 in decided(sim, "stop", 0)


def test_hyperband_brackets_promote_by_pareto_order():
    sim = mo_sim("hyperband", 20, [1, 9]).run().end()
    first = sim.book.s.brackets[0]
    assert first.rungs == [1, 3, 9] and first.proposed == list(range(9))
    promoted = [n for n in decided(sim, "promote", 0) if n in first.proposed]
    assert sorted(promoted) == sorted(pareto_order(vectors(range(9)), DIRECTIONS)[:3])


def test_an_infeasible_trial_never_goes_on_over_a_feasible_one():
    sim = mo_sim("sha", 9, [1, 3, 9], constraints=[ConstraintSpec("val_accuracy", min=0.55)]).run().end()
    # trials 0 and 4 are on the first front but break the constraint: feasible trials take their places;
    # infeasible ones rank last, by how far they miss (0: 0.5, 4: 0.4, 6: 0.3)
    promoted = decided(sim, "promote", 0)
    assert not {0, 4} & set(promoted) and len(promoted) == 3
    stop = next(d for d in sim.decisions() if d.kind == "stop" and d.trial == 4)
    assert stop.detail.startswith("infeasible (val_accuracy 0.4 < min 0.55), 8th of 9 at the rung")
    assert sorted(sim.book.leader_order()[-3:]) == [0, 4, 6]  # the six feasible trials come first


def test_one_objective_with_constraints_puts_feasible_trials_first():
    input = sweep_input("sha", 9, [1, 3, 9])
    input.base = SimpleNamespace(trainer=SimpleNamespace(monitor="val_loss"))  # type: ignore[assignment]
    input.constraints = [ConstraintSpec("latency_ms", max=5)]
    sim = Sim.start(input)
    sim.metrics = metrics
    sim.run().end()
    # val_loss is `value(n, rung)`; trials 1, 5 and 8 take longer than 5 ms: never promoted
    assert not {1, 5, 8} & set(decided(sim, "promote", 0))
    assert sim.book.leader_order()[0] not in (1, 5, 8)
    assert mo_ranking.best_value(input, list(sim.book.trials.values())) == sim.book.best_score()


@pytest.mark.parametrize("kind,ordered", [("sha", False), ("asha", False), ("asha", True), ("hyperband", False)])
def test_one_objective_with_a_constraint_nobody_breaks_decides_as_the_plain_sweep(kind, ordered):
    plain = Sim.start(sweep_input(kind, 20, [1, 3, 9]), ordered=ordered).run().end()
    input = sweep_input(kind, 20, [1, 3, 9])
    input.base = SimpleNamespace(trainer=SimpleNamespace(monitor="val_loss"))  # type: ignore[assignment]
    input.constraints = [ConstraintSpec("latency_ms", max=100)]
    constrained = Sim.start(input, ordered=ordered)
    constrained.metrics = metrics
    constrained.run().end()
    assert not plain.book.s.pareto and constrained.book.s.pareto

    def moves(sim: Sim) -> list[tuple[str, int, int]]:
        return [(d.kind, d.trial, d.rung) for d in sim.decisions() if d.kind in ("promote", "stop")]

    assert moves(constrained) == moves(plain)
    assert not any("front" in d.detail for d in plain.decisions())  # the plain sweep's details are as before
    assert constrained.book.leader_order() == plain.book.leader_order()


def test_a_sweep_ranked_by_vectors_keeps_every_record_in_its_state():
    sim = mo_sim("asha", 30, [1, 3, 9], archive_batch=10).run().end()
    assert len(sim.book.trials) == 30 and not sim.archive  # no record left for the archive
    assert sim.archived_decisions  # decisions still leave in parts
    plain = Sim.start(sweep_input("asha", 30, [1, 3, 9], archive_batch=10)).run().end()
    assert len(plain.book.trials) < 30


def test_the_leaderboard_never_puts_an_infeasible_trial_first():
    input = sweep_input("sha", 2, [1, 3])
    input.objectives, input.constraints = OBJECTIVES, [ConstraintSpec("latency_ms", max=5)]
    higher = TrialState(number=0, params={}, rung=1, metrics=[0.1, 0.1], rung_steps=[1, 3], state="completed",
                        rung_metrics=[metrics(1, 0), metrics(1, 1)])  # latency 9: infeasible, though further
    lower = TrialState(number=1, params={}, rung=0, metrics=[0.2], rung_steps=[1], state="stopped",
                       rung_metrics=[metrics(3, 0)])
    assert mo_ranking.pareto_leaderboard(input, [higher, lower]) == [1, 0]
    assert mo_ranking.best_value(input, [higher, lower]) == pytest.approx(0.85)
    assert mo_ranking.best_value(input, [higher]) is None  # nothing feasible: no best to show


def test_the_sampler_learns_each_trials_vector_and_constraint_values():
    sim = mo_sim("asha", 9, [1, 3, 9], constraints=[ConstraintSpec("latency_ms", max=5)]).run().end()
    history = {f.number: f for f in proposal_history(sim.book, 9)}
    assert history[1].values == [pytest.approx(v) for v in vectors([1], rung=sim.book.trials[1].rung)[1]]
    assert history[1].constraints == [pytest.approx((9 - 5) / 5)] and history[3].constraints[0] < 0
    assert all(math.isfinite(v) for f in history.values() for v in f.values)
