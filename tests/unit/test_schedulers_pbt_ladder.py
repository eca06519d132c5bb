"""`ladder=pbt` as a ladder kind, without a server (`tests.unit.sweep_sim`): the population is one bracket,
every boundary closes before anyone decides, the bottom quantile exploits the top and explores, every member
goes on, and the decisions do not depend on the order the results arrived in."""

from __future__ import annotations

import dataclasses

import pytest

from tests.unit.sweep_sim import Sim, sweep_input
from workflows.payloads.specs import ParamSpec, PbtSpec
from workflows.payloads.sweep import ExtendRequest
from workflows.schedulers.extend_check import validate_extend
from workflows.schedulers.pbt_scheduler import EXTEND_TRIALS, boundaries

SPACE = [ParamSpec(key="x", type="float", low=0.0, high=100.0)]


def pbt_sim(population: int = 4, rungs: tuple[int, ...] = (10, 20, 30), archive_batch: int = 0, **spec) -> Sim:
    input = dataclasses.replace(sweep_input("pbt", population, list(rungs), archive_batch=archive_batch,
                                            keep_checkpoints=-1),
                                space=SPACE, pbt=PbtSpec(population=population, **spec))
    sim = Sim.start(input)
    sim.score = lambda n, rung: float(n)  # minimize: member 0 best, the highest number worst
    return sim


def apply_copies(sim: Sim) -> None:
    """What `workflows.pbt_exploit.copy_pending` does once a copy succeeded."""
    for t in sim.book.trials.values():
        if t.pending_exploit is not None:
            t.lineage.append(t.pending_exploit)
            t.pending_exploit = None


def play(sim: Sim, order=sorted) -> Sim:
    """Each boundary: start every member that may train (in `order`), then settle and copy."""
    book = sim.book
    while True:
        book.settle()
        apply_copies(sim)
        jobs = []
        while (job := book.next_job()) is not None and job[0] not in jobs:
            number = job[0] if job[0] >= 0 else book.new_trial(job[1])
            book.trials[number].state = "running"
            jobs.append(number)
        if not jobs:
            return sim.end()
        for number in order(jobs):
            trial = book.trials[number]
            if not trial.lineage:  # as `LadderSweepWorkflow._propose` starts it
                trial.lineage = [_start(number)]
            sim.segment(trial)


def _start(number: int):
    from workflows.payloads.records import PbtStep

    return PbtStep(step=0, source=number, params={"x": float(number)})


def kinds(sim: Sim, kind: str) -> list:
    return [d for d in sim.decisions() if d.kind == kind]


def test_boundaries_every_interval_and_the_budget():
    assert boundaries(50, 200) == [50.0, 100.0, 150.0, 200.0]
    assert boundaries(30, 100) == [30.0, 60.0, 90.0, 100.0]


def test_the_worst_member_exploits_the_best_at_each_closed_boundary_and_all_go_on():
    sim = play(pbt_sim(resample_probability=0.0))
    exploits = kinds(sim, "exploit")
    assert [(d.trial, d.rung) for d in exploits] == [(3, 0), (3, 1)]  # k = ceil(4 x 0.25) = 1; rung 2 is the top
    assert "copies member 0" in exploits[0].detail and "at step 10" in exploits[0].detail
    assert not kinds(sim, "stop") and len(kinds(sim, "promote")) == 8
    member = sim.book.trials[3]
    assert [(s.step, s.source) for s in member.lineage] == [(0, 3), (10, 0), (20, 0)]
    assert member.lineage[1].params["x"] in (0.0,)  # 0 x factor stays 0 (the source's value perturbed)
    assert all(t.state == "completed" and t.rung == 2 for t in sim.book.trials.values())
    assert all(len(t.lineage) == 1 for n, t in sim.book.trials.items() if n != 3)


def test_explore_perturbs_the_source_s_value_within_the_space():
    sim = pbt_sim(resample_probability=0.0, perturbation_factors=[2.0])
    sim.score = lambda n, rung: -float(n)  # maximize-like under minimize: member 3 best, member 0 worst
    play(sim)
    first = kinds(sim, "exploit")[0]
    assert first.trial == 0 and "copies member 3" in first.detail and "x 3 -> 6 (x2)" in first.detail
    assert sim.book.trials[0].lineage[1].params == {"x": 6.0}


def test_nothing_is_decided_before_every_member_reported():
    sim = pbt_sim()
    book = sim.book
    for _ in range(3):
        job = book.next_job()
        number = book.new_trial(job[1])
        sim.segment(book.trials[number])
    book.settle()
    assert not kinds(sim, "exploit") and not kinds(sim, "promote") and not book.closed(0, 0)


def test_the_decisions_do_not_depend_on_the_order_results_arrive_in():
    forward = play(pbt_sim(population=8, rungs=(10, 20, 30, 40), resample_probability=0.5), order=sorted)
    backward = play(pbt_sim(population=8, rungs=(10, 20, 30, 40), resample_probability=0.5),
                    order=lambda jobs: sorted(jobs, reverse=True))
    assert [(d.kind, d.trial, d.rung, d.detail) for d in kinds(forward, "exploit")] == \
        [(d.kind, d.trial, d.rung, d.detail) for d in kinds(backward, "exploit")]
    assert len(kinds(forward, "exploit")) == 2 * 3  # k = 2 of 8, at 3 boundaries below the top


def test_burn_in_leaves_early_boundaries_alone():
    sim = play(pbt_sim(burn_in=20))
    assert [d.rung for d in kinds(sim, "exploit")] == [1]


def test_members_stay_in_the_state_while_they_wait():
    sim = play(pbt_sim(archive_batch=1))
    assert sorted(sim.book.trials) == [0, 1, 2, 3] or sim.archive  # final ones may leave at the end
    assert not sim.book.parked_numbers()


def test_extend_adds_steps_not_members():
    sim = pbt_sim()
    with pytest.raises(ValueError, match="fixed population"):
        validate_extend(sim.book, ExtendRequest(trials=2), done=False)
    assert EXTEND_TRIALS.startswith("ladder=pbt")
    play(sim)
    sim.book.s.stopping = False
    sim.book.extend(ExtendRequest(rungs=[40]), lambda budgets: [int(b) for b in budgets])
    play(sim)
    assert all(t.rung == 3 for t in sim.book.trials.values())
    assert [d.rung for d in kinds(sim, "exploit")] == [0, 1, 2]  # the old top became a boundary


def test_the_runner_s_state_estimate_holds_a_real_population_s_state():
    """`runner.sweep_size.pbt_bytes` bounds the carried state of a PBT sweep played to its end (every
    member's record, the boundaries, the decisions not yet archived): its worst case assumes every member
    exploits at every boundary, and a real one fills fewer fields than the estimate's."""
    from temporalio.converter import DataConverter

    from runner.sweep_size import pbt_bytes
    from workflows.payloads.specs import SamplerSpec

    sim = pbt_sim(population=6, rungs=tuple(range(10, 410, 10)), archive_batch=10, quantile=0.5)
    sim.book.input.base = type("Base", (), {"run_root": "/runs/" + "r" * 40})()  # type: ignore[assignment]
    sim.book.input.name, sim.book.input.sampler = "pbt-sweep", SamplerSpec()
    play(sim)
    actual = len(DataConverter.default.payload_converter.to_payloads([sim.book.s])[0].data)
    base, per_boundary = pbt_bytes(sim.book.input)
    estimate = base + per_boundary * 40
    assert actual <= estimate, (actual, estimate)
