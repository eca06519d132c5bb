"""best_config.yaml: the best trial's parameters under the LR schedule of the segment that reached its recorded
rung, validating at that rung's step, with the sweep's id and config commit (`origin`) that a run of it
reports; a trial trained under more than one schedule gets the reason it may not reproduce written in."""

from __future__ import annotations

from pathlib import Path

from runner.best_config import origin_line, origin_of, origin_repo, write_best_config
from runner.resolve import resolve_run, to_plain
from tests.conftest import SMALL_RUN, compose_config
from workflows.payloads.records import TrialState

REPO = {"path": "/team/configs", "commit": "0123456789abcdef" * 2 + "01234567", "dirty": False}


def written(tmp_path: Path, best: TrialState, *overrides: str):
    plain = to_plain(compose_config(*SMALL_RUN, "experiment_name=sweepy", *overrides))
    path = write_best_config(tmp_path, "sweepy-sha-abc", plain, best, REPO)
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
