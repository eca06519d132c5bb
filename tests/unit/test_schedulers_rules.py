"""Each scheduler's rule on small sweeps, without a server (`tests.unit.sweep_sim`): what sha, asha,
ordered asha, hyperband and none promote and stop, and how `extend` changes their plan."""

from __future__ import annotations

from tests.unit.sweep_sim import Sim, sweep_input, value
from workflows.ladder import sha_promotions
from workflows.payloads.sweep import ExtendRequest
from workflows.schedulers import SCHEDULERS, scheduler_for
from workflows.schedulers.asha_ordered import OrderedAshaScheduler
from workflows.schedulers.extend_check import validate_extend


def decided(sim: Sim, kind: str, rung: int) -> list[int]:
    return [d.trial for d in sim.decisions() if d.kind == kind and d.rung == rung]


def steps(budgets: list[float]) -> list[int]:
    return [int(b) for b in budgets]


def test_the_registry_covers_every_ladder_kind():
    assert set(SCHEDULERS) == {"sha", "asha", "hyperband", "none", "pbt"}
    assert isinstance(scheduler_for("asha", True), OrderedAshaScheduler)
    assert type(scheduler_for("sha", True)) is SCHEDULERS["sha"]  # ordered mode changes only asha


def test_sha_promotes_the_top_third_once_a_rung_closes():
    sim = Sim.start(sweep_input("sha", 9, [1, 3, 9])).run(segments=8)
    assert decided(sim, "promote", 0) == [] and not sim.book.closed(0, 0)  # trial 8 has not reported
    sim.run().end()
    best = sha_promotions({n: value(n, 0) for n in range(9)}, 3, "minimize")
    assert sorted(decided(sim, "promote", 0)) == sorted(best)
    assert len(decided(sim, "stop", 0)) == 6 and len(decided(sim, "promote", 1)) == 1
    assert sim.book.s.brackets[0].decided == [0, 1]
    assert [t.state for t in sim.book.leaderboard()][:1] == ["completed"]


def test_asha_promotes_as_results_arrive_and_stops_the_rest_at_the_close():
    sim = Sim.start(sweep_input("asha", 9, [1, 3, 9])).run(segments=4)
    assert len(decided(sim, "promote", 0)) == 1  # the best of the first 3 goes up at once
    sim.run().end()
    assert len(decided(sim, "promote", 0)) == 3 and len(decided(sim, "stop", 0)) == 6


def test_ordered_asha_applies_rung_0_in_trial_number_order():
    early = Sim.start(sweep_input("asha", 9, [1, 3, 9]), ordered=True)
    early.score = lambda n, rung: 1.0 - n / 10  # later trials are better: none is promoted early by luck
    early.run().end()
    plain = Sim.start(sweep_input("asha", 9, [1, 3, 9]), ordered=False)
    plain.score = early.score
    plain.run().end()
    assert decided(early, "promote", 0) == decided(plain, "promote", 0)  # one at a time, the same order
    assert early.book.s.brackets[0].frontier[0] == 9


def test_hyperband_plans_brackets_that_trade_trials_for_budget():
    sim = Sim.start(sweep_input("hyperband", 20, [1, 9]))
    plan = [(b.rungs, b.size) for b in sim.book.s.brackets]
    assert plan[0] == ([1, 3, 9], 9) and plan[1][0] == [3, 9] and plan[2][0] == [9]
    assert sum(size for _, size in plan) == 20
    sim.run().end()
    assert {t.bracket for t in sim.book.trials.values()} >= {0, 1}


def test_none_promotes_every_trial_and_keeps_no_archived_ranking():
    sim = Sim.start(sweep_input("none", 6, [1, 3], archive_batch=2)).run().end()
    assert len(decided(sim, "promote", 0)) == 6 and not decided(sim, "stop", 0)
    assert all(not a.numbers for b in sim.book.s.brackets for a in b.archived)


def test_extend_trials_adds_brackets_for_sha_and_grows_asha_s_one():
    sha = Sim.start(sweep_input("sha", 4, [1, 3], eta=2)).run().end()
    sha.book.s.stopping = False
    validate_extend(sha.book, ExtendRequest(trials=4), done=False)
    assert sha.book.extend(ExtendRequest(trials=4), steps) == "extended by 4 trials"
    assert [b.size for b in sha.book.s.brackets] == [4, 4]
    asha = Sim.start(sweep_input("asha", 4, [1, 3], eta=2))
    asha.book.extend(ExtendRequest(trials=4), steps)
    assert [b.size for b in asha.book.s.brackets] == [8]


def test_extend_rungs_reopens_the_old_top():
    sim = Sim.start(sweep_input("sha", 4, [1, 3], eta=2)).run()
    tops = [t for t in sim.book.trials.values() if t.state == "completed"]
    assert len(tops) == 2
    sim.book.extend(ExtendRequest(rungs=[9]), steps)
    assert all(t.state == "waiting" for t in tops) and sim.book.s.brackets[0].rungs == [1, 3, 9]
    sim.run().end()
    best = min(tops, key=lambda t: t.metrics[-1])
    assert decided(sim, "promote", 1) == [best.number]
    assert best.state == "completed" and best.rung == 2


def test_a_user_stop_of_a_waiting_trial_stops_it_and_a_running_one_asks_for_a_cancel():
    sim = Sim.start(sweep_input("asha", 9, [1, 3, 9])).run(segments=4)
    waiting = next(t for t in sim.book.trials.values() if t.state == "waiting")
    assert sim.book.stop_trial(waiting.number) == (True, False)
    assert waiting.state == "stopped" and waiting.user_stopped
    assert sim.book.stop_trial(waiting.number) == (False, False)  # final: ignored
    sim.book.running = {5}
    sim.book.trials[5] = sim.book.trials.get(5) or sim.book.trials[sim.book.new_trial(0)]
    assert sim.book.stop_trial(5) == (True, True)
