"""The runner applies to a parked trial's archived record ("waiting") what the sweep decided afterwards."""

from __future__ import annotations

from runner.sweep_accounting import settle_parked
from workflows.payloads.records import Decision, TrialState


def parked(number: int, rung: int) -> TrialState:
    return TrialState(number=number, params={"optim.lr": 0.001}, state="waiting", rung=rung, target=rung,
                      metrics=[0.5] * (rung + 1), rung_steps=[10 * (r + 1) for r in range(rung + 1)],
                      checkpoint_dir=f"/runs/checkpoints/s/trial{number}")


def test_ladder_stop_signal_stop_and_the_sweeps_end():
    trials = [parked(1, 0), parked(2, 0), parked(3, 1), parked(4, 0)]
    decisions = [
        Decision("stop", 1, 0, "minimize 0.5000; top 3 of 9 go on to 30 steps"),
        Decision("prune", 1, 0, "checkpoints deleted: final and not among the best 3"),
        Decision("stop", 2, 0, "stop_trial signal"),
        Decision("stop", 3, 0, "an older stop at another rung does not count"),
        Decision("promote", 4, 0, "in the top 1/3 of 9 reported"),
        Decision("stop_sweep", -1, -1, "stop signal"),
    ]
    settle_parked(trials, decisions)
    one, two, three, four = trials
    assert (one.state, one.reason, one.demoted, one.checkpoints_pruned) == (
        "stopped", "minimize 0.5000; top 3 of 9 go on to 30 steps", True, True)
    assert (two.state, two.reason, two.demoted, two.checkpoints_pruned) == ("stopped", "stop_trial signal", False, False)
    assert (three.state, three.reason, three.demoted) == ("stopped", "the sweep was stopped", False)
    assert (four.state, four.reason, four.target) == ("stopped", "the sweep was stopped", 1)  # promoted, never loaded
    left = [parked(5, 0)]
    settle_parked(left, [])
    assert left[0].reason == "the sweep ended"
