"""best_config.yaml: the best trial's parameters under the LR schedule of the segment that reached its recorded
rung, validating at that rung's step, with the sweep's id and config commit (`origin`) that a run of it
reports; a trial trained under more than one schedule gets the reason it may not reproduce written in."""

from __future__ import annotations

from pathlib import Path

from runner.best_config import origin_line, origin_of, origin_repo, write_best_config
from runner.resolve import resolve_run, to_plain
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.records import PbtStep, TrialState

REPO = {"path": "/team/configs", "commit": "0123456789abcdef" * 2 + "01234567", "dirty": False}


def written(tmp_path: Path, best: TrialState, *overrides: str, trials: dict[int, TrialState] | None = None):
    plain = to_plain(compose_config(*SMALL_RUN, "experiment_name=sweepy", *overrides))
    path = write_best_config(tmp_path, "sweepy-sha-abc", plain, best, REPO, trials)
    cfg = compose_config(config_name=path.stem, config_dir=str(tmp_path))
    return path.read_text(), to_plain(cfg), cfg


def test_best_config_records_its_sweep_and_trains_the_recorded_schedule(tmp_path):
    best = TrialState(number=3, params={"optim.lr": 0.0004, "optim.warmup_ratio": 0.1}, metrics=[1.2, 1.0452],
                      rung_steps=[10, 30], schedule_steps=[30, 30])
    text, plain, cfg = written(tmp_path, best)
    assert "sweep sweepy-sha-abc" in text and REPO["commit"] in text and "not reproduced" not in text
    assert plain["optim"]["lr"] == 0.0004 and plain["trainer"]["max_steps"] == 30
    assert plain["ladder"]["kind"] == "none" and plain["experiment_name"] == "sweepy_best"
    origin = origin_of(plain)
    assert origin is not None
    assert (origin["sweep_id"], origin["trial"], origin["step"], origin["value"]) == ("sweepy-sha-abc", 3, 30, 1.0452)
    assert origin["config_commit"] == REPO["commit"] and origin["note"] == ""
    repo = origin_repo(origin)
    assert repo is not None and (repo.path, repo.commit) == (REPO["path"], REPO["commit"])
    resolve_run(cfg)  # runs as-is
    assert "reproduced exactly" in origin_line(origin, 30, 1.0452)
    assert "this run: 1.05" in origin_line(origin, 30, 1.05)
    # the CI run of 2026-12-04 recorded 1.5811198949813843 and reran 1.5811200141906738: one float32 apart
    close = {**origin, "value": 1.5811198949813843}
    assert "reproduced to float32 precision (this run: 1.5811200141906738, 1 ulp apart)" in origin_line(
        close, 30, 1.5811200141906738)
    assert "this run: 1.5812" in origin_line(close, 30, 1.5812) and "reproduced" not in origin_line(close, 30, 1.5812)


def test_a_rung_below_the_schedule_end_is_validated_and_mixed_schedules_are_explained(tmp_path):
    # a best trial that stopped at 20 of a 30-step schedule: the run trains the 30-step schedule and validates at 20
    short = TrialState(number=1, params={"optim.lr": 0.001}, metrics=[1.3, 1.1], rung_steps=[10, 20],
                       schedule_steps=[30, 30])
    _, plain, _ = written(tmp_path, short, "trainer.val_every_n_steps=15")
    assert plain["trainer"]["max_steps"] == 30 and 20 % plain["trainer"]["val_every_n_steps"] == 0
    # after extend --rungs: segments under schedules of 30 and 60 steps cannot be one run
    mixed = TrialState(number=2, params={"optim.lr": 0.001}, metrics=[1.3, 1.1], rung_steps=[30, 60],
                       schedule_steps=[30, 60])
    text, plain, _ = written(tmp_path, mixed)
    assert "# not reproduced exactly: trial 2 trained its segments under LR schedules of [30, 60]" in text
    assert plain["origin"]["note"].startswith("trial 2 trained") and plain["trainer"]["max_steps"] == 60
    assert origin_of(to_plain(compose_config(*SMALL_RUN))) is None  # an ordinary config has no origin


def member(number: int, *steps: tuple[int, int, float]) -> TrialState:
    """A PBT member with lineage entries (step, source, lr), trained to step 30."""
    lineage = [PbtStep(step=step, source=source, params={"optim.lr": lr, "optim.warmup_ratio": 0.1})
               for step, source, lr in steps]
    return TrialState(number=number, params=dict(lineage[-1].params), metrics=[1.3, 1.1, 0.9],
                      rung_steps=[10, 20, 30], schedule_steps=[30, 30, 30], lineage=lineage)


def test_a_pbt_members_best_config_is_its_weights_schedule_and_runs_as_is(tmp_path):
    # member 1 copied member 2 at step 10, member 4 copied member 1 at step 20
    trials = {2: member(2, (0, 2, 0.002)),
              1: member(1, (0, 1, 0.001), (10, 2, 0.0024)),
              4: member(4, (0, 4, 0.0005), (20, 1, 0.0029))}
    best = trials[4]
    text, plain, cfg = written(tmp_path, best, "search_space=lr_warmup", trials=trials)
    # the weights of member 4 at step 30: member 2's training to step 10, member 1's from 10 (with member 1's
    # explored lr), member 4's from 20; member 4's own start (lr 0.0005) never reached them
    assert "member 2 from step 0, member 1 from step 10, member 4 from step 20" in text
    assert plain["optim"]["lr"] == 0.002 and plain["optim"]["warmup_ratio"] == 0.1
    assert plain["schedule"] == [{"step": 10, "params": {"optim.lr": 0.0024, "optim.warmup_ratio": 0.1}},
                                 {"step": 20, "params": {"optim.lr": 0.0029, "optim.warmup_ratio": 0.1}}]
    assert plain["ladder"]["kind"] == "none" and plain["search_space"]["params"] == []
    assert plain["trainer"]["max_steps"] == 30 and plain["origin"]["trial"] == 4 and plain["origin"]["step"] == 30
    assert plain["origin"]["note"] == "" and "not reproduced" not in text  # the same steps, parameters and seed
    run, _ = resolve_run(cfg)  # runs as-is, with the schedule as its segments' parameters
    assert [(s.step, s.params["optim.lr"]) for s in run.schedule] == [(10, 0.0024), (20, 0.0029)]
    assert run.optim.lr == 0.002


def test_a_pbt_member_that_never_exploited_has_a_one_entry_schedule_and_no_note(tmp_path):
    own = PbtStep(step=0, source=2, params={"optim.lr": 0.0005})
    best = TrialState(number=2, params={"optim.lr": 0.0005}, metrics=[1.2, 1.0], rung_steps=[15, 30],
                      schedule_steps=[30, 30], lineage=[own])
    text, plain, cfg = written(tmp_path, best, "ladder=sha", "ladder.kind=pbt")
    assert plain["schedule"] == [] and plain["optim"]["lr"] == 0.0005 and plain["origin"]["note"] == ""
    assert "member 2 from step 0's parameters" in text and "not reproduced" not in text
    assert resolve_run(cfg)[0].schedule == []


def test_a_sweeps_own_keys_are_left_out_so_the_trials_config_runs(tmp_path):
    """enqueue, warm_start.from (and a budget, a rung probe) steer a sweep; a single run refuses them, so the best trial's
    config must not carry them."""
    from runner.sweep_config import refuse_sweep_keys

    best = TrialState(number=1, params={"optim.lr": 0.001}, metrics=[1.1], rung_steps=[30], schedule_steps=[30])
    _, plain, cfg = written(tmp_path, best, "experiment=bert_sweep", "enqueue=[{optim.lr: 0.001}]",
                            "warm_start.from=[earlier-sha-0123]", "budget.max_steps_total=500", "ladder.probe_trials=3")
    assert plain["enqueue"] == [] and plain["warm_start"]["from"] == [] and plain["budget"]["max_steps_total"] == 0
    assert plain["ladder"]["probe_trials"] == 0
    _, resolved = resolve_run(cfg)
    refuse_sweep_keys(resolved, "a single run")  # nothing left to refuse
