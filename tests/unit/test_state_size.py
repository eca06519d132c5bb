"""The runner's estimate of a sweep's carried state (final trials leave it for the archive; what a running
bracket must remember stays), against real encodings."""

from __future__ import annotations

from temporalio.converter import DataConverter

from runner.resolve import resolve_run
from runner.sweep_config import resolve_sweep
from runner.sweep_size import ARCHIVED_RESULT_BYTES, PARKED_TRIAL_BYTES, STATE_LIMIT_BYTES, state_bytes, trial_state_bytes
from tests.conftest import compose_config
from workflows.payloads.records import Decision, TrialState
from workflows.payloads.sweep import Parked, RungArchive, SweepState


def sweep_of(*overrides: str):
    base, plain = resolve_run(compose_config("experiment=bert_sweep", *overrides))
    return resolve_sweep(base, plain)


def encoded(value) -> int:
    return len(DataConverter.default.payload_converter.to_payloads([value])[0].data)


def test_the_limit_depends_on_what_a_running_bracket_remembers():
    sha = sweep_of()
    fixed, per_trial = state_bytes(sha)
    assert fixed + per_trial * sha.max_trials <= STATE_LIMIT_BYTES < fixed + per_trial * (sha.max_trials + 1)
    assert sha.max_trials > 10_000  # a parked trial's entry, not its record, waits for the rung's decision
    asha = sweep_of("ladder=asha")
    assert 5_000 < asha.max_trials < sha.max_trials  # asha also keeps the best archived results per rung
    hyperband = sweep_of("ladder=hyperband", "ladder.rungs=[]", "ladder.min_budget=20", "ladder.max_budget=180")
    assert hyperband.max_trials > 10_000  # small brackets; finished ones keep only counts
    plain = sweep_of("ladder=none", "ladder.rungs=[180]", "n_trials=1000000")  # no bracket remembers anything
    assert plain.max_trials == 0 and state_bytes(plain)[1] == 0
    more_keys = sweep_of("search_space.params=[{key: optim.lr, low: 1e-4, high: 1e-2}, {key: optim.weight_decay, "
                         "low: 0.0, high: 0.1}, {key: model.dropout, low: 0.0, high: 0.3}]")
    assert trial_state_bytes(more_keys) > trial_state_bytes(sha)


def test_the_estimate_is_not_below_what_a_stopped_trial_really_costs():
    """A trial stopped at the first rung, as the sweep records it (its propose, rung result and stop)."""
    sweep = sweep_of()
    trial = TrialState(number=7, params={"optim.lr": 0.0012345678901234567, "optim.warmup_ratio": 0.06},
                       state="stopped", rung=0, metrics=[1.2345678901234567], rung_steps=[20], resumed_from_steps=[0],
                       checkpoint=f"{sweep.base.run_root}/checkpoints/bert_sweep-1a2b3c4d5e6f/trial7/step00000020.ckpt",
                       checkpoint_dir=f"{sweep.base.run_root}/checkpoints/bert_sweep-1a2b3c4d5e6f/trial7", steps_trained=20,
                       reason="minimize 1.2346; top 3 of 9 go on to 60 steps", demoted=True,
                       rung_metrics=[{"val_accuracy": 0.7123456789012345, "val_loss": 1.2345678901234567,
                                      "val_macro_f1": 0.6912345678901234}],
                       best_checkpoint=f"{sweep.base.run_root}/checkpoints/bert_sweep-1a2b3c4d5e6f/trial7/best.ckpt",
                       proposed_by="startup_random", segment_times=[[1796212345.678, 1796212398.765]])
    decisions = [Decision("propose", 7, -1, "optim.lr=0.0012345678901234567 optim.warmup_ratio=0.06 (startup_random)"),
                 Decision("rung_result", 7, 0, "val_loss 1.2346 at step 20 (resumed from 0)"),
                 Decision("stop", 7, 0, "minimize 1.2346; top 3 of 9 go on to 60 steps")]

    def size(n: int) -> int:
        return encoded(SweepState(trials=[trial] * n, decisions=decisions * n))

    assert trial_state_bytes(sweep) >= (size(20) - size(10)) / 10


def test_archived_results_and_parked_trials_cost_no_more_than_estimated():
    entries = RungArchive(count=100_000, numbers=list(range(10_000, 11_000)), values=[1.2345678901234567] * 1000)
    assert (encoded(entries) - encoded(RungArchive(count=100_000))) / 1000 <= ARCHIVED_RESULT_BYTES
    parked = Parked(numbers=list(range(10_000, 11_000)), rungs=[12] * 1000, values=[1.2345678901234567] * 1000,
                    parts=[9999] * 1000, targets=[-1] * 1000)
    assert (encoded(parked) - encoded(Parked())) / 1000 <= PARKED_TRIAL_BYTES
