"""`train-tune rerun SWEEP_ID --trial N|best`: the run it starts is the one the trial's best_config.yaml holds
(one rule, `runner.best_config.trial_run`: a PBT member's weights' schedule, another trial's parameters,
under the LR schedule of its recorded segment), built from the sweep's input; and a `--trial` that names no
rerunnable trial, or a run that is not a sweep, is refused in one line naming the value and what is valid."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from runner.best_config import best_config, origin_line, trial_run, write_best_config
from runner.exit_codes import BAD_INPUT, exit_code
from runner.resolve import resolve_run
from runner.trial_rerun import BEST, chosen_trial, refuse_non_sweep, spans, trial_argument, trial_input, what_it_trains
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.records import PbtStep, TrialState
from workflows.payloads.runs import ScheduledParams
from workflows.payloads.sweep import LadderSweepResult


def member(number: int, *steps: tuple[int, int, float]) -> TrialState:
    """A PBT member with lineage entries (step, source, lr), with results at 10, 20 and 30."""
    lineage = [PbtStep(step=step, source=source, params={"optim.lr": lr, "optim.warmup_ratio": 0.1})
               for step, source, lr in steps]
    return TrialState(number=number, params=dict(lineage[-1].params), state="completed", metrics=[1.3, 1.1, 0.9],
                      rung_steps=[10, 20, 30], schedule_steps=[30, 30, 30], lineage=lineage)


# member 1 copied member 2 at step 10, member 4 copied member 1 at step 20
MEMBERS = {2: member(2, (0, 2, 0.002)), 1: member(1, (0, 1, 0.001), (10, 2, 0.0024)),
           4: member(4, (0, 4, 0.0005), (20, 1, 0.0029))}


def test_one_rule_for_a_pbt_member_and_for_any_other_trial():
    run = trial_run("pbt", MEMBERS[4], MEMBERS)
    # member 4's weights at 30: member 2's training to 10, member 1's from 10, its own from 20
    assert run.pbt and run.params == {"optim.lr": 0.002, "optim.warmup_ratio": 0.1}
    assert run.schedule == [{"step": 10, "params": {"optim.lr": 0.0024, "optim.warmup_ratio": 0.1}},
                            {"step": 20, "params": {"optim.lr": 0.0029, "optim.warmup_ratio": 0.1}}]
    assert (run.max_steps, run.step, run.note) == (30, 30, "")
    assert "(member 2 from step 0, member 1 from step 10, member 4 from step 20; 3 segments)" in what_it_trains(
        run, MEMBERS)
    # a sha trial stopped at 20 of a 30-step schedule: its parameters, the 30-step schedule, validated at 20
    short = TrialState(number=1, params={"optim.lr": 0.001}, metrics=[1.3, 1.1], rung_steps=[10, 20],
                       schedule_steps=[30, 30])
    run = trial_run("sha", short)
    assert (run.pbt, run.params, run.schedule, run.max_steps, run.step) == (False, {"optim.lr": 0.001}, [], 30, 20)
    assert run.validation_interval(15) == 5 and run.validation_interval(10) == 10
    # after extend --rungs: one run cannot follow two schedules, and says so
    mixed = TrialState(number=2, params={"optim.lr": 0.001}, metrics=[1.1], rung_steps=[60], schedule_steps=[30, 60])
    assert trial_run("sha", mixed).note.startswith("trial 2 trained its segments under LR schedules of [30, 60]")


@pytest.mark.parametrize("kind, number", [("pbt", 4), ("pbt", 2), ("sha", 1)])
def test_the_rerun_is_the_run_best_config_yaml_starts(tmp_path: Path, kind: str, number: int):
    # the sha trial stopped at 20 of a 30-step schedule: validated every 5 steps instead of 15, to reach 20
    ladder = ["ladder=pbt", "ladder.perturbation_interval=10"] if kind == "pbt" else [
        "ladder=sha", "trainer.val_every_n_steps=15"]
    sweep_cfg = compose_config(*SMALL_RUN, "experiment_name=sweepy", "search_space=lr_warmup", *ladder)
    base, plain = resolve_run(sweep_cfg)  # the sweep's input holds this run as its base
    trial = MEMBERS[number] if kind == "pbt" else TrialState(
        number=1, params={"optim.lr": 0.0004, "optim.warmup_ratio": 0.06}, metrics=[1.2, 1.0], rung_steps=[10, 20],
        schedule_steps=[30, 30])
    path = write_best_config(tmp_path, "sweepy-x", plain, trial, {"path": "/c", "commit": "abc"}, MEMBERS)
    from_file, _ = resolve_run(compose_config(config_name=path.stem, config_dir=str(tmp_path)))

    config, run = best_config("sweepy-x", plain, trial, {"path": "/c", "commit": "abc"}, MEMBERS)
    rerun = trial_input(base, run, config)
    assert asdict(rerun) == asdict(from_file)  # parameters, schedule, steps, validation, experiment, identity
    assert rerun.config_hash != base.config_hash
    assert rerun.trainer.val_every_n_steps == (5 if kind == "sha" else 10)
    if number == 4:
        assert rerun.schedule == [ScheduledParams(10, {"optim.lr": 0.0024, "optim.warmup_ratio": 0.1}),
                                  ScheduledParams(20, {"optim.lr": 0.0029, "optim.warmup_ratio": 0.1})]
    assert base.schedule == [] and base.trainer.max_steps == 30 and base.optim.lr == 1e-3  # the input is not changed


def test_the_origin_line_names_a_trial_other_than_the_best_as_such():
    origin = {"sweep_id": "s", "trial": 2, "step": 30, "monitor": "val_loss", "value": 0.9, "config_commit": "abc"}
    assert origin_line(origin, 30, 0.9) == "best config of sweep s (trial 2, config commit abc): val_loss 0.9 at " \
                                           "step 30; reproduced exactly"
    assert origin_line({**origin, "best": False}, 30, 0.91).startswith("config of sweep s (trial 2, ")


def sweep(*trials: TrialState, best: int = -1) -> LadderSweepResult:
    return LadderSweepResult(trials=list(trials), decisions=[], best_trial=best, total_steps=0)


def refused(call, *args) -> str:
    with pytest.raises(LookupError) as caught:
        call(*args)
    assert exit_code(caught.value) == BAD_INPUT and "\n" not in str(caught.value)  # exit 2, one line
    return str(caught.value)


def test_a_trial_that_cannot_be_rerun_is_named_with_the_ones_that_can():
    waiting = TrialState(number=5, params={"optim.lr": 0.1}, state="failed")
    result = sweep(*MEMBERS.values(), waiting, best=4)
    assert chosen_trial("s", result, BEST) is MEMBERS[4] and chosen_trial("s", result, 2) is MEMBERS[2]
    message = refused(chosen_trial, "s", result, 9)
    assert message.startswith("--trial is 9, but sweep s has no trial 9 (trials 1-2, 4-5)")
    assert message.endswith("valid: best or a trial that reached a rung: 1-2, 4")
    message = refused(chosen_trial, "s", result, 5)
    assert message.startswith("--trial is 5, but trial 5 of sweep s never reached a rung (failed)")
    assert message.endswith("valid: best or a trial that reached a rung: 1-2, 4")
    assert "no trial of sweep s has reached a rung yet" in refused(chosen_trial, "s", sweep(waiting), BEST)
    assert refused(chosen_trial, "s", sweep(waiting), 5).endswith("valid: none yet: no trial has reached a rung")


def test_a_bad_trial_value_or_a_run_that_is_not_a_sweep_is_refused():
    assert (trial_argument("best"), trial_argument("3"), trial_argument("0")) == ("best", 3, 0)
    for text in ("last", "-1", "1.5", ""):
        assert refused(trial_argument, text) == f"--trial is '{text}', but must be a trial number (0, 1, ...) or best"
    message = refused(refuse_non_sweep, "bert-1", "TrainEvalWorkflow", 3)
    assert message == ("--trial is 3, but bert-1 is a TrainEvalWorkflow; --trial picks a trial of a ladder sweep "
                       "(LadderSweepWorkflow): drop it to rerun the whole run")
    refuse_non_sweep("sweepy-x", "LadderSweepWorkflow", BEST)  # a sweep: nothing to refuse
    assert spans([7, 1, 2, 3, 9, 10]) == "1-3, 7, 9-10" and spans([]) == ""

