"""The rung probe (`workflows.schedulers.rung_probe`): its rule on plain numbers, and the sweep's own
`SweepBook` run without a server (rung results set as a finished segment sets them): the probe's trials
go up every rung whatever they score, the ladder's brackets are planned from the first agreeing rung once
the last probe trial ends, and nothing else (archive, `extend`) disturbs it meanwhile."""

from __future__ import annotations

import math

import pytest

from workflows.payloads.records import TrialState
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import ExtendRequest, LadderSweepInput
from workflows.schedulers import archive_book, open_book, rung_probe
from workflows.schedulers.book import SweepBook
from workflows.schedulers.extend_check import validate_extend

RUNGS = [3.0, 9.0, 27.0, 81.0]


def steps(budgets: list[float]) -> list[int]:
    return [int(b) for b in budgets]


def book(kind: str = "asha", n_trials: int = 30, probe: int = 6, ordered: bool = True) -> SweepBook:
    input = LadderSweepInput(name="probe", base=None, space=[], n_trials=n_trials, rungs=RUNGS, eta=3,  # type: ignore[arg-type]
                             kind=kind, sampler=SamplerSpec(name="random", deterministic=ordered),
                             keep_checkpoints=-1, archive_batch=10, probe_trials=probe)
    b = open_book(input)
    b.s.ordered, b.s.by_promotion = ordered, ordered
    b.s.brackets = rung_probe.plan_probe(b, steps)
    return b


def report(trial: TrialState, value: float, top: int, rungs: list[float] = RUNGS) -> None:
    """What the workflow records when a trial's segment ends at its target rung."""
    trial.rung = trial.target
    trial.metrics.append(value)
    trial.rung_steps.append(int(rungs[trial.rung]))
    trial.state = "completed" if trial.rung == top else "waiting"


def run_probe(b: SweepBook, value, order: list[int] | None = None) -> None:
    """Start every probe trial, then train them rung by rung (in `order` at each rung), settling after
    each result as the workflow does; `value(n, rung)` is trial n's result there (minimised)."""
    size = b.s.brackets[0].size
    for _ in range(size):
        b.trials[b.new_trial(0)].params = {"x": 0}
    top = len(b.s.brackets[0].rungs) - 1
    for rung in range(top + 1):
        for n in order or range(size):
            t = b.trials[n]
            assert t.target == rung and t.state in ("pending", "promoted"), (n, t.state, t.target)
            report(t, value(n, rung), top)
            b.settle()
            rung_probe.decide(b, steps)


def test_the_ladder_starts_at_the_first_rung_that_agrees():
    assert rung_probe.first_rung([0.2, 0.7, 0.9], tops=6, threshold=0.5) == 1
    assert rung_probe.first_rung([0.6, 0.1, 0.9], tops=6, threshold=0.5) == 0
    assert rung_probe.first_rung([math.nan, 0.4, 0.3], tops=6, threshold=0.5) == 3  # none: the top, no pruning
    assert rung_probe.first_rung([0.9, 0.9, 0.9], tops=6, threshold=0.95) == 3
    assert rung_probe.first_rung([-1.0, -1.0, -1.0], tops=2, threshold=0.5) == 0  # too few to judge: as configured


def test_agreement_pairs_finite_values_only_and_a_constant_rung_has_none():
    trials = [TrialState(number=n, params={}, metrics=m) for n, m in enumerate(
        [[1.6, 0.5, 0.9], [1.6, 0.4, 0.2], [1.6, math.nan, 0.5], [1.6, 0.1, 0.1], [1.6, 0.3], [1.6, 0.2, math.nan]])]
    rhos, tops = rung_probe.agreement(trials, top=2)
    assert tops == 4  # trial 4 stopped below the top, trial 5 diverged there
    assert math.isnan(rhos[0])  # 1.6 everywhere: the untrained value ranks nothing
    assert rhos[1] == pytest.approx(1.0)  # trials 0, 1, 3 (trial 2 has no value at rung 1)


def test_probe_trials_all_go_up_and_the_ladder_starts_where_rungs_agree():
    b = book()
    # rung 0 ranks in reverse of the top; rungs 1 and 2 as the top
    run_probe(b, lambda n, rung: -n if rung == 0 else n + rung)
    assert len([d for d in b.s.decisions if d.kind == "stop"]) == 0
    assert all(len(b.trials[n].metrics) == 4 and b.trials[n].state == "completed" for n in range(6))
    assert b.s.probe is not None and b.s.probe.first_rung == 1
    assert b.s.probe.agreement == pytest.approx([-1.0, 1.0, 1.0])
    assert [(x.rungs, x.size, x.probe) for x in b.s.brackets] == [([3, 9, 27, 81], 6, True), ([9, 27, 81], 24, False)]
    probe = [d for d in b.s.decisions if d.kind == "probe"]
    assert len(probe) == 1 and probe[0].rung == 1
    assert "3 steps -1.00, 9 steps +1.00" in probe[0].detail and "the ladder starts at 9 steps" in probe[0].detail
    assert b.next_job() == (-1, 1)  # the other trials enter the ladder's bracket
    rung_probe.decide(b, steps)  # decided once
    assert len(b.s.brackets) == 2 and len([d for d in b.s.decisions if d.kind == "probe"]) == 1


def test_the_decision_does_not_depend_on_the_order_results_arrive_in():
    def value(n: int, rung: int) -> float:
        return [5, 1, 4, 2, 6, 3][n] * (1 if rung >= 2 else -1) + rung
    one, two = book(), book()
    run_probe(one, value)
    run_probe(two, value, order=[5, 2, 0, 4, 1, 3])
    assert one.s.probe == two.s.probe
    assert [(x.rungs, x.size) for x in one.s.brackets] == [(x.rungs, x.size) for x in two.s.brackets]
    assert one.s.probe is not None and one.s.probe.first_rung == 2


def test_no_agreeing_rung_trains_the_others_unpruned_and_hyperband_plans_from_the_start_rung():
    b = book()
    run_probe(b, lambda n, rung: n if rung == 3 else -n)
    assert b.s.brackets[1].rungs == [81] and b.s.brackets[1].size == 24
    assert "no rung below the top agrees" in [d for d in b.s.decisions if d.kind == "probe"][0].detail
    hb = book(kind="hyperband", n_trials=40, probe=6)
    assert hb.s.brackets[0].rungs == [3, 9, 27, 81]  # the most exploratory bracket's rungs
    run_probe(hb, lambda n, rung: -n if rung == 0 else n)
    assert [(x.rungs[0], x.size) for x in hb.s.brackets[1:]] == [(9, 9), (27, 5), (81, 3)] * 2  # hyperband from 9
    assert sum(x.size for x in hb.s.brackets[1:]) == 34


def test_a_probe_of_failed_trials_keeps_the_ladder_as_configured():
    b = book()
    for _ in range(6):
        b.trials[b.new_trial(0)].params = {"x": 0}
    for n in range(6):
        b.trials[n].state = "failed"
    rung_probe.decide(b, steps)
    assert b.s.brackets[1].rungs == [3, 9, 27, 81]
    assert "fewer than 3" in [d for d in b.s.decisions if d.kind == "probe"][0].detail


def test_probe_trials_stay_in_the_state_and_extend_waits_until_the_probe_decides():
    b = book()
    for _ in range(6):
        b.trials[b.new_trial(0)].params = {"x": 0}
    for n in range(5):  # five ended, one still trains
        t = b.trials[n]
        t.metrics, t.rung_steps, t.rung, t.state = [1.0, 1.0, 1.0, float(n)], [3, 9, 27, 81], 3, "completed"
    b.trials[5].state = "running"
    assert archive_book.leaving(b) == []
    with pytest.raises(ValueError, match="rung probe .6 trials. has not chosen"):
        validate_extend(b, ExtendRequest(trials=5), done=False)
    validate_extend(b, ExtendRequest(rungs=[243.0]), done=False)  # higher rungs may come meanwhile
    t = b.trials[5]
    t.metrics, t.rung_steps, t.rung, t.state = [1.0, 1.0, 1.0, 9.0], [3, 9, 27, 81], 3, "completed"
    rung_probe.decide(b, steps)
    assert b.s.probe is not None and b.s.probe.first_rung == 3  # constant below the top: nothing agrees
    assert len(archive_book.leaving(b)) == 3  # all but the held leaders may leave now
    b.extend(ExtendRequest(trials=5), steps)
    assert [x.size for x in b.s.brackets] == [6, 29]  # asha's one ladder bracket grows, not the probe's


def test_a_sweep_without_a_probe_keeps_the_identity_it_had_before_the_keys_existed(tmp_path):
    from runner.resolve import resolve_run
    from runner.sweep_config import resolve_sweep
    from runner.sweep_session import sweep_id, sweep_identity
    from tests.conftest import compose_config

    def identity(*overrides: str) -> tuple[dict, str]:
        run, plain = resolve_run(compose_config("experiment=bert_sweep", f"run_root={tmp_path}", *overrides))
        sweep = resolve_sweep(run, plain)
        found = sweep_identity(sweep, plain, "")
        return found, sweep_id(sweep, found)

    plain, plain_id = identity()
    assert not {"probe_trials", "probe_agreement"} & set(plain["ladder"])
    assert identity("ladder.probe_agreement=0.8")[1] == plain_id  # no probe: the threshold decides nothing
    probed, probed_id = identity("ladder.probe_trials=4")
    assert probed["ladder"]["probe_trials"] == 4 and probed_id != plain_id
    assert identity("ladder.probe_trials=4", "ladder.probe_agreement=0.8")[1] != probed_id


def test_the_plan_printed_at_start_names_the_probe():
    from runner.sweep_watch import describe_plan

    sweep = book(kind="hyperband", n_trials=40).input
    sweep.unit = "steps"
    assert describe_plan(sweep) == (
        "rung probe: trials 0-5 to the top of rungs ['3', '9', '27', '81'] steps unpruned; then 34 trials in "
        "hyperband brackets from the first rung that ranks them as the top does (Spearman >= 0.7)")
    sweep.probe_trials = 0
    assert describe_plan(sweep).startswith("bracket 0: 27 trials at rungs ['3', '9', '27', '81'] steps; bracket 1:")


def test_extend_after_the_probe_plans_from_its_first_rung():
    hb = book(kind="hyperband", n_trials=40, probe=6)
    run_probe(hb, lambda n, rung: -n if rung == 0 else n)
    before = len(hb.s.brackets)
    hb.extend(ExtendRequest(trials=17), steps)
    assert [(x.rungs, x.size) for x in hb.s.brackets[before:]] == [([9, 27, 81], 9), ([27, 81], 5), ([81], 3)]
    sha = book(kind="sha", n_trials=12, probe=6)
    run_probe(sha, lambda n, rung: -n if rung < 2 else n)
    sha.extend(ExtendRequest(trials=4), steps)
    assert [(x.rungs, x.size) for x in sha.s.brackets] == [([3, 9, 27, 81], 6), ([27, 81], 6), ([27, 81], 4)]
    plain = book(kind="sha", n_trials=12, probe=0)
    plain.s.probe, plain.s.brackets = None, []
    plain.extend(ExtendRequest(trials=4), steps)  # no probe: over the configured rungs, as before
    assert [(x.rungs, x.size) for x in plain.s.brackets] == [([3, 9, 27, 81], 4)]


async def test_status_of_a_sweep_whose_workers_predate_the_probe_query_counts_from_the_first_rung():
    from temporalio.client import WorkflowQueryFailedError

    from runner.sweep_watch import probe_choice

    class OlderWorkers:  # what a handle answers when the serving worker has no `probe` query
        async def query(self, query):
            raise WorkflowQueryFailedError("Query handler for 'probe' expected but not found")

    assert await probe_choice(OlderWorkers(), book().input) == -1
    assert await probe_choice(OlderWorkers(), book(probe=0).input) == -1  # no probe: never asked


def test_rungs_extended_during_the_probe_are_probed_too():
    b = book(n_trials=12, probe=4)
    for _ in range(4):
        b.trials[b.new_trial(0)].params = {"x": 0}

    def reach(n: int, rung: int, value: float) -> None:
        probe = b.s.brackets[0].rungs
        report(b.trials[n], value, top=len(probe) - 1, rungs=[float(r) for r in probe])
        b.settle()
        rung_probe.decide(b, steps)

    for rung in range(4):  # trials 0-2 to 81 steps; trial 3 only to 27
        for n in range(3 if rung == 3 else 4):
            reach(n, rung, -n)
    assert rung_probe.probing(b)
    b.extend(ExtendRequest(rungs=[243.0]), steps)  # while the probe runs: its bracket grows
    assert b.s.brackets[0].rungs == [3, 9, 27, 81, 243]
    b.settle()
    assert all(b.trials[n].state == "promoted" and b.trials[n].target == 4 for n in range(3))  # on to 243
    reach(3, 3, -3)
    assert b.trials[3].state == "promoted" and rung_probe.probing(b)
    for n in range(4):  # 243 steps ranks in reverse of every rung below
        reach(n, 4, float(n))
    assert b.s.probe is not None and b.s.probe.first_rung == 4
    assert [(x.rungs, x.size) for x in b.s.brackets[1:]] == [([243], 8)]  # from the extended rung
