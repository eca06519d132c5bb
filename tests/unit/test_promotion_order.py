"""Ordered asha applies a rung's results, above the first, in the order its trials were promoted there
(`workflows.schedulers.asha_ordered.release_in_order`), so trials still waiting or training at rung 0 do not hold back the
rungs above while new trials keep coming. The decision code is the workflow's own (its `SweepBook` and
scheduler), run without a server; rung results are set as a finished segment sets them."""

from __future__ import annotations

from workflows.payloads.records import TrialState
from workflows.payloads.specs import SamplerSpec
from workflows.payloads.sweep import BracketState, ExtendRequest, LadderSweepInput
from workflows.schedulers import open_book
from workflows.schedulers.asha_ordered import may_leave
from workflows.schedulers.book import SweepBook

RUNGS = [10, 30, 90]
VALUES = [0.9, 0.5, 0.1, 0.8, 0.3, 0.2, 0.85, 0.7, 0.05, 0.95, 0.6, 0.15]
"""Trial n's result at rung 0 (minimize); at rung r its value minus r / 100."""


def sweep(by_promotion: bool | None = True) -> SweepBook:
    """An open-ended asha sweep (1,000 trials planned) in ordered mode: trials 0-11 reported at rung 0,
    12-15 training towards it. `by_promotion` None or False: a sweep started before the new rule."""
    input = LadderSweepInput(name="open", base=None, space=[], n_trials=1000, rungs=RUNGS, eta=3,  # type: ignore[arg-type]
                             kind="asha", sampler=SamplerSpec(name="random", deterministic=True), keep_checkpoints=-1)
    wf = open_book(input)
    wf.s.ordered, wf.s.by_promotion = True, by_promotion
    wf.s.brackets = [BracketState(rungs=RUNGS, size=1000, proposed=list(range(16)))]
    for n in range(16):
        trial = TrialState(number=n, params={"x": n}, state="running", target=0)
        wf.trials[n] = trial
        if n < len(VALUES):
            report(trial, VALUES[n])
    return wf


def report(trial: TrialState, value: float) -> None:
    """What the workflow records when a trial's segment ends at its target rung (not the top)."""
    trial.rung = trial.target
    trial.metrics.append(value - trial.rung / 100)
    trial.rung_steps.append(RUNGS[trial.rung])
    trial.state = "waiting"


def promotions(wf: SweepBook, rung: int) -> list[int]:
    return [d.trial for d in wf.s.decisions if d.kind == "promote" and d.rung == rung]


def train_promoted(wf: SweepBook, numbers: list[int]) -> None:
    for n in numbers:
        trial = wf.trials[n]
        assert trial.state == "promoted"
        report(trial, VALUES[n])


def test_rung_1_results_go_up_while_rung_0_is_still_open():
    wf = sweep()
    wf.settle()
    up = promotions(wf, 0)
    assert len(up) == 4 and 0 not in up  # trial 0 (0.9) waits at rung 0: it may still be promoted
    assert not wf.closed(0, 0)
    train_promoted(wf, up)
    wf.settle()
    assert promotions(wf, 1) == [8]  # the best of the 4 rung-1 results goes on to rung 2 now
    assert wf.trials[8].target == 2 and wf.trials[0].state == "waiting"
    assert wf.s.brackets[0].promoted[1] == []  # every rung-1 result applied
    assert len(wf.s.brackets[0].promoted) == 2  # the top rung has no decisions: nothing queued there


def test_rung_1_applies_its_results_in_promotion_order_whatever_order_they_arrive_in():
    """The last one promoted reports first: nothing is applied until those promoted before it report;
    the decisions are those of the results arriving all at once."""
    calm = sweep()
    calm.settle()
    up = promotions(calm, 0)
    train_promoted(calm, up)
    calm.settle()
    jittered = sweep()
    jittered.settle()
    assert jittered.s.brackets[0].promoted[1] == up
    for n in reversed(up):
        train_promoted(jittered, [n])
        jittered.settle()
        if n != up[0]:
            assert promotions(jittered, 1) == [] and n in jittered.s.brackets[0].promoted[1]  # not applied yet
    assert jittered.s.decisions == calm.s.decisions


def test_a_result_above_rung_0_leaves_the_state_only_once_applied():
    """A trial the user stopped after it reported at rung 1 (not waiting, so never parked): its record may
    be archived only once its result there has been applied, or the rank of later ones would miss it."""
    wf = sweep()
    wf.settle()
    first, *rest = promotions(wf, 0)
    train_promoted(wf, rest)
    wf.settle()
    stopped = wf.trials[rest[0]]
    stopped.state = "stopped"
    bracket = wf.s.brackets[0]
    assert not may_leave(stopped, bracket, wf.s)  # waits behind trial `first`, still training
    train_promoted(wf, [first])
    wf.settle()
    assert may_leave(stopped, bracket, wf.s) and bracket.promoted[1] == []


def test_sweeps_started_before_the_rule_keep_trial_number_order():
    """A sweep started by the older ordered code (its hand-offs carry no `by_promotion`): trial 0 waits at
    rung 0, so no rung-1 result is applied and nothing goes above rung 1."""
    for old in (None, False):
        wf = sweep(by_promotion=old)
        wf.settle()
        train_promoted(wf, promotions(wf, 0))
        wf.settle()
        assert promotions(wf, 1) == [] and wf.s.brackets[0].promoted == []


def test_extending_the_top_rung_queues_its_trials_in_number_order():
    """`extend --rungs`: the old top becomes a rung with decisions; the trials at or training towards it
    are queued there in number order (nothing was recorded for a top rung)."""
    wf = sweep()
    wf.settle()
    train_promoted(wf, promotions(wf, 0))
    wf.settle()
    (first,) = promotions(wf, 1)
    train_promoted(wf, [first])  # at the top rung: the segment completes it
    wf.trials[first].state = "completed"
    assert len(wf.s.brackets[0].promoted) == 2  # nothing queued at the top
    wf.extend(ExtendRequest(rungs=[270]), lambda budgets: [int(b) for b in budgets])
    assert wf.s.brackets[0].promoted[2] == [first] and wf.trials[first].state == "waiting"
