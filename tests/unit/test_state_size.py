"""The runner's estimate of how many trials fit in a sweep's carried state, against a real encoding."""

from __future__ import annotations

from temporalio.converter import DataConverter

from runner.resolve import resolve_run
from runner.sweep import PAYLOAD_LIMIT_BYTES, STATE_SHARE, resolve_sweep, state_bytes_per_trial
from tests.conftest import compose_config
from workflows.ladder_sweep import Decision, SweepState, TrialState


def sweep_of(*overrides: str):
    base, plain = resolve_run(compose_config("experiment=bert_sweep", *overrides))
    return resolve_sweep(base, plain)


def test_the_estimate_fits_the_payload_limit_and_grows_with_rungs_and_keys():
    sweep = sweep_of()
    assert sweep.max_trials * state_bytes_per_trial(sweep) <= PAYLOAD_LIMIT_BYTES * STATE_SHARE
    assert 500 < sweep.max_trials < 5000
    more_keys = sweep_of("search_space.params=[{key: optim.lr, low: 1e-4, high: 1e-2}, {key: optim.weight_decay, "
                         "low: 0.0, high: 0.1}, {key: model.dropout, low: 0.0, high: 0.3}]")
    assert state_bytes_per_trial(more_keys) > state_bytes_per_trial(sweep)
    assert state_bytes_per_trial(sweep_of("ladder=none", "ladder.rungs=[180]")) < state_bytes_per_trial(sweep)


def test_the_estimate_is_not_below_what_a_stopped_trial_really_costs():
    """A trial stopped at the first rung, as the sweep records it (its propose, rung result and stop)."""
    sweep = sweep_of()
    trial = TrialState(number=7, params={"optim.lr": 0.0012345678901234567, "optim.warmup_ratio": 0.06},
                       state="stopped", rung=0, metrics=[1.2345678901234567], rung_steps=[20], resumed_from_steps=[0],
                       checkpoint=f"{sweep.base.run_root}/checkpoints/bert_sweep-1a2b3c4d5e6f/trial7/step00000020.ckpt",
                       checkpoint_dir=f"{sweep.base.run_root}/checkpoints/bert_sweep-1a2b3c4d5e6f/trial7", steps_trained=20,
                       reason="minimize 1.2346; top 3 of 9 go on to 60 steps", demoted=True)
    decisions = [Decision("propose", 7, -1, "optim.lr=0.0012345678901234567 optim.warmup_ratio=0.06"),
                 Decision("rung_result", 7, 0, "val_loss 1.2346 at step 20 (resumed from 0)"),
                 Decision("stop", 7, 0, "minimize 1.2346; top 3 of 9 go on to 60 steps")]

    def size(n: int) -> int:
        state = SweepState(trials=[trial] * n, decisions=decisions * n)
        return len(DataConverter.default.payload_converter.to_payloads([state])[0].data)

    assert state_bytes_per_trial(sweep) >= (size(20) - size(10)) / 10
