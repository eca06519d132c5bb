"""`enqueue:` and `warm_start:` without a server: the config checks (one line naming the entry, key, value and
what is valid), the proposals through Optuna's own `enqueue_trial` / `add_trial`, the conversion of an earlier
sweep's trials (skipped when outside the space, digests only for checkpoints that may be reused) and the
digest that decides a reuse."""

from __future__ import annotations

import dataclasses

import pytest

from activities.suggest import suggest_params
from runner.resolve import resolve_run
from runner.sweep_config import resolve_sweep
from runner.sweep_start_config import refuse_outside_sweep, resolve_enqueue, warm_start_config
from runner.warm_start import earlier_trials
from runner.warm_view import warm_lines
from tests.conftest import compose_config
from workflows.checkpoint_reuse import match, trial_digest
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import FinishedTrial, SuggestRequest
from workflows.payloads.records import Decision, TrialState
from workflows.payloads.specs import ParamSpec, SamplerSpec
from workflows.payloads.sweep import LadderSweepResult
from workflows.payloads.warm_start import EarlierTrial, WarmStart
from workflows.proposals import learned, warm_history, warm_start_detail
from workflows.search_params import apply_params

SPACE = [ParamSpec(key="optim.lr", type="float", low=1e-4, high=3e-3, log=True),
         ParamSpec(key="optim.warmup_ratio", type="categorical", choices=[0.0, 0.06, 0.1]),
         ParamSpec(key="trainer.batch_size", type="int", low=8, high=32, step=8)]


@pytest.mark.parametrize(("entries", "message"), [
    ([{"optim.lr": 1e-3}, {"optim.momentum": 0.9}],
     "enqueue[1].optim.momentum is 0.9, but optim.momentum is not searched; the search space's keys are: optim.lr, "
     "optim.warmup_ratio, trainer.batch_size"),
    ([{"optim.lr": 1e-2}], "enqueue[0].optim.lr is 0.01, but it must lie in [0.0001, 0.003] (search_space.params.optim.lr)"),
    ([{"optim.warmup_ratio": 0.05}], "enqueue[0].optim.warmup_ratio is 0.05, but it must be one of [0.0, 0.06, 0.1]"),
    ([{"trainer.batch_size": 12}], "enqueue[0].trainer.batch_size is 12, but it must lie on the grid 8, 16, .. (step 8)"),
    ([{"optim.lr": "fast"}], "enqueue[0].optim.lr is 'fast', but it must be a number in [0.0001, 0.003]"),
    ([{"optim.lr": 1e-3}] * 2, "enqueue[1] is {'optim.lr': 0.001}, the same config as enqueue[0]"),
    ([{}], "enqueue[0] is {}, but must map search-space keys to values"),
    ([{"optim.lr": 1e-3}] * 4, "enqueue has 4 entries, but n_trials is 3"),
])
def test_enqueue_refuses_with_one_line(entries, message):
    with pytest.raises(ConfigError) as error:
        resolve_enqueue(entries, SPACE, 3)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_enqueue_gives_the_values_as_the_sampler_would():
    entries = resolve_enqueue([{"optim.lr": 1, "optim.warmup_ratio": 0}, {"trainer.batch_size": 16.0}],
                              [*SPACE[1:], ParamSpec(key="optim.lr", low=0.5, high=2)], 3)
    assert entries == [{"optim.lr": 1.0, "optim.warmup_ratio": 0.0}, {"trainer.batch_size": 16}]
    assert isinstance(entries[0]["optim.lr"], float) and isinstance(entries[1]["trainer.batch_size"], int)


def test_enqueue_is_checked_at_resolve_time():
    cfg = compose_config("experiment=bert_sweep", "enqueue=[{optim.lr:1e-3,optim.warmup_ratio:0.2}]")
    with pytest.raises(ConfigError, match=r"enqueue\[0\].optim.warmup_ratio is 0.2, but it must be one of"):
        resolve_sweep(*resolve_run(cfg))
    sweep = resolve_sweep(*resolve_run(compose_config("experiment=bert_sweep", "enqueue=[{optim.lr:1e-3}]",
                                                      "warm_start.from=[bert_sweep-sha-0123]")))
    assert sweep.enqueue == [{"optim.lr": 1e-3}]
    assert sweep.warm_start == WarmStart(sweeps=["bert_sweep-sha-0123"])


@pytest.mark.parametrize(("raw", "message"), [
    ({"from": ["a"], "reuse": True}, "warm_start.reuse is True, but warm_start takes: from, reuse_checkpoints"),
    ({"from": "a"}, "warm_start.from is 'a', but must be a list of sweep ids"),
    ({"from": ["a", "a"]}, "warm_start.from is ['a', 'a'], which names a sweep twice"),
    ({"from": ["a"], "reuse_checkpoints": "yes"}, "warm_start.reuse_checkpoints is 'yes', but must be true or false"),
])
def test_warm_start_keys_are_checked(raw, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        warm_start_config(raw)
    assert warm_start_config({"from": [], "reuse_checkpoints": True}) is None


@pytest.mark.parametrize("sampler", ["tpe", "random", "qmc", "grid"])
def test_an_enqueued_entry_is_the_proposal(sampler):
    space = [ParamSpec(key="optim.lr", type="categorical", choices=[2e-4, 1e-3, 3e-3]), SPACE[1],
             ParamSpec(key="trainer.batch_size", type="categorical", choices=[8, 16])]  # grid needs steps
    history = [FinishedTrial(n, {"optim.lr": 1e-3, "optim.warmup_ratio": 0.0, "trainer.batch_size": 8}, "complete", 0.5)
               for n in range(3)]
    request = SuggestRequest(space, SamplerSpec(name=sampler), "minimize", history, 3,
                             enqueued={"optim.lr": 2e-4, "optim.warmup_ratio": 0.1})
    first = suggest_params(request)
    assert first.reason == "enqueued" and first == suggest_params(request)  # deterministic
    assert first.params["optim.lr"] == 2e-4 and first.params["optim.warmup_ratio"] == 0.1
    assert first.params["trainer.batch_size"] in (8, 16)  # left out: the sampler draws it
    plain = suggest_params(dataclasses.replace(request, enqueued={}))
    assert plain.reason != "enqueued"


def test_warm_trials_feed_tpe_from_the_first_proposal():
    space = SPACE[:1]
    warm = [FinishedTrial(-1, {"optim.lr": lr}, "complete", abs(lr - 1e-3), step=30, rung_steps=[10, 30],
                          rung_values=[0.9, abs(lr - 1e-3)])
            for lr in (1e-4, 2e-4, 5e-4, 9e-4, 1.1e-3, 2e-3, 3e-3)]
    request = SuggestRequest(space, SamplerSpec(name="tpe", n_startup_trials=5), "minimize", [], 0, warm=warm)
    taught = suggest_params(request)
    assert taught.reason == "tpe"  # seven finished trials: TPE is past its random start-up at trial 0
    assert suggest_params(dataclasses.replace(request, warm=[])).reason == "startup_random"
    lrs = [suggest_params(dataclasses.replace(request, number=n)).params["optim.lr"] for n in range(8)]
    assert sum(5e-4 <= lr <= 2e-3 for lr in lrs) >= 6, lrs  # near the earlier sweep's best


def _earlier_sweep(run_root: str):
    base, plain = resolve_run(compose_config("experiment=bert_sweep", f"run_root={run_root}"))
    sweep = resolve_sweep(base, plain)
    trials = [
        TrialState(number=0, params={"optim.lr": 1e-3, "optim.warmup_ratio": 0.06}, state="completed",
                   metrics=[0.8, 0.5], rung_steps=[20, 60], schedule_steps=[60, 60], checkpoint_dir=f"{run_root}/c/0",
                   rung_metrics=[{"val_loss": 0.8}, {"val_loss": 0.5}]),
        TrialState(number=1, params={"optim.lr": 2e-3, "optim.warmup_ratio": 0.06}, state="stopped", metrics=[0.9],
                   rung_steps=[20], schedule_steps=[60], checkpoint_dir=f"{run_root}/c/1", checkpoints_pruned=True),
        TrialState(number=2, params={"optim.lr": 5e-2, "optim.warmup_ratio": 0.06}, state="stopped", metrics=[1.5],
                   rung_steps=[20], schedule_steps=[60], checkpoint_dir=f"{run_root}/c/2"),
        TrialState(number=3, params={"optim.lr": 1e-3, "optim.warmup_ratio": 0.06}, state="failed"),
    ]
    return sweep, LadderSweepResult(trials=trials, decisions=[], best_trial=0, total_steps=100, snapshot_id="snap1")


def test_earlier_trials_fit_the_space_or_are_skipped(tmp_path):
    earlier, result = _earlier_sweep(str(tmp_path))
    trials, skipped, notes = earlier_trials("old", earlier, result, earlier, reuse=True)
    assert [t.number for t in trials] == [0, 1] and skipped == 1 and not notes  # lr 5e-2 is outside; 3 has no result
    assert [t.state for t in trials] == ["complete", "pruned"]
    assert len(trials[0].digests) == 2 and trials[1].digests == []  # trial 1's checkpoints were deleted
    run = apply_params(earlier.base, trials[0].params)
    run.trainer.max_steps = 60
    assert trials[0].digests == [trial_digest(run, "snap1")] * 2
    assert learned(trials[0]) == FinishedTrial(0, trials[0].params, "complete", 0.5, 60, [20, 60], [0.8, 0.5])

    other = dataclasses.replace(earlier, base=dataclasses.replace(earlier.base, run_root=str(tmp_path / "elsewhere")))
    trials, _, notes = earlier_trials("old", earlier, result, other, reuse=True)
    assert all(not t.digests for t in trials) and "its checkpoints are not reused" in notes[0]


def test_the_digest_decides_a_reuse(tmp_path):
    earlier, result = _earlier_sweep(str(tmp_path))
    trials, _, _ = earlier_trials("old", earlier, result, earlier, reuse=True)
    warm = WarmStart(sweeps=["old"], trials=trials)
    run = apply_params(earlier.base, trials[0].params)
    run.trainer.max_steps = 60
    assert match(warm, trial_digest(run, "snap1"), 60) == (trials[0], 1)
    assert match(warm, trial_digest(run, "snap1"), 40) is None  # no rung of it ended there
    assert match(warm, trial_digest(run, "snap2"), 60) is None  # other data
    assert match(dataclasses.replace(warm, reuse_checkpoints=False), trial_digest(run, "snap1"), 60) is None
    changed = [dataclasses.replace(run, optim=dataclasses.replace(run.optim, lr=1.01e-3)),
               dataclasses.replace(run, seed=1),
               dataclasses.replace(run, trainer=dataclasses.replace(run.trainer, max_steps=180))]
    assert all(trial_digest(c, "snap1") != trial_digest(run, "snap1") for c in changed)
    same = dataclasses.replace(run, trainer=dataclasses.replace(run.trainer, heartbeat_timeout_s=5, keep_last_checkpoints=9))
    assert trial_digest(same, "snap1") == trial_digest(run, "snap1")  # how it is run, not what it computes


def test_the_warm_start_decision_says_what_was_taken(tmp_path):
    earlier, result = _earlier_sweep(str(tmp_path))
    trials, skipped, _ = earlier_trials("old", earlier, result, earlier, reuse=True)
    sweep = dataclasses.replace(earlier, warm_start=WarmStart(sweeps=["old"], trials=trials, skipped=skipped))
    assert warm_start_detail(sweep) == ("sampler tpe learns from 2 finished trials of old (1 complete); 1 skipped "
                                        "(parameters outside this search space); 2 rung checkpoints of 1 trials may "
                                        "be reused")
    assert len(warm_history(sweep)) == 2
    random = dataclasses.replace(sweep, sampler=SamplerSpec(name="random"))
    assert warm_history(random) == [] and "learns from no history" in warm_start_detail(random)
    assert isinstance(EarlierTrial(sweep="x", number=0), EarlierTrial)


def test_the_lines_say_what_was_reused_and_enqueued():
    trials = [TrialState(number=0, params={}, rung_steps=[10, 30], reused=["old#0@10", "old#0@30"], proposed_by="enqueued"),
              TrialState(number=1, params={}, rung_steps=[10, 30], reused=["old#4@10"], proposed_by="tpe")]
    lines = warm_lines(trials, [Decision("warm_start", -1, -1, "sampler tpe learns from 9 finished trials of old")])
    assert lines == ["warm start: sampler tpe learns from 9 finished trials of old",
                     "checkpoints reused: 3 rungs of 2 trials (40 steps not trained again)",
                     "enqueued configs: trials 0"]
    assert warm_lines([dataclasses.replace(trials[1], reused=[], proposed_by="tpe")], []) == []


def test_the_earlier_trials_are_bounded_by_the_window(tmp_path):
    earlier, result = _earlier_sweep(str(tmp_path))
    trials, _, _ = earlier_trials("old", earlier, result, earlier, reuse=True, limit=1)
    assert [t.number for t in trials] == [0]  # the best one (complete) stays


def test_a_single_run_refuses_sweep_only_keys():
    with pytest.raises(ConfigError, match=r"enqueue is \[\{'optim.lr': 0.001\}\], but this is a single run"):
        refuse_outside_sweep({"enqueue": [{"optim.lr": 1e-3}], "warm_start": {"from": []}})
    with pytest.raises(ConfigError, match=r"warm_start.from is \['x'\], but this is a single run"):
        refuse_outside_sweep({"enqueue": [], "warm_start": {"from": ["x"]}})
    refuse_outside_sweep({"enqueue": [], "warm_start": {"from": [], "reuse_checkpoints": True}})

