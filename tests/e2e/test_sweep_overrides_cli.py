"""Hydra's sweep grammar through the CLI (`hydra/sweeper=train_tune`): `-m` with interval and tag(log, ...)
runs one ladder sweep over that space, `hydra.sweeper.params` in an experiment file does the same under the
command line, and a bad sweep override fails in one line before anything starts. (Comma lists alone still
fan out through the temporal launcher: tests/e2e/test_multirun.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port
from tests.e2e.test_cli import train_tune

SHORT = ["dataset.max_samples=200", "dataset.max_length=64", "predict_texts=[]", "sampler=random"]


def connection(tmp_path: Path) -> list[str]:
    return [f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}", "temporal.ui=false"]


def searched_space(job: Path) -> list[dict]:
    """The search_space.params override the sweeper gave the sweep's one job (Hydra's overrides.yaml)."""
    lines = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
    (space,) = [line for line in lines if line.startswith("search_space.params=")]
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_override(space).value()


@pytest.mark.e2e
def test_interval_and_log_tag_on_the_command_line_run_one_sweep(tmp_path):
    done = train_tune(
        "-m", "model=bert_tiny", "optim.lr=tag(log, interval(1e-4, 3e-3))", "optim.warmup_ratio=interval(0, 0.2)",
        "trainer.batch_size=8,16", "n_trials=3", "ladder=sha", "ladder.eta=2", "ladder.rungs=[5,10]",
        "trainer.max_steps=10", "trainer.checkpoint_every_n_steps=5", "trainer.val_every_n_steps=5",
        "experiment_name=cli_search", *SHORT, *connection(tmp_path), cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert output.count("started sweep cli_search-sha-") == 1 and "started coordinator" not in output, output[-4000:]

    (job,) = tmp_path.glob("multirun/*/*/*/sweep.json")  # one job: the sweep, in Hydra's folder 0
    assert job.parent.name == "0" and (job.parent.parent / "multirun.yaml").is_file()
    assert searched_space(job.parent) == [
        {"key": "optim.lr", "type": "float", "low": 1e-4, "high": 3e-3, "log": True},
        {"key": "optim.warmup_ratio", "type": "float", "low": 0.0, "high": 0.2},
        {"key": "trainer.batch_size", "type": "categorical", "choices": [8, 16]},
    ]
    trials = json.loads(job.read_text())["trials"]
    assert len(trials) == 3 and [t["state"] for t in trials].count("completed") == 1  # eta 2: one to rung 10
    for trial in trials:
        params = trial["params"]
        assert set(params) == {"optim.lr", "optim.warmup_ratio", "trainer.batch_size"}, params
        assert 1e-4 <= params["optim.lr"] <= 3e-3 and 0 <= params["optim.warmup_ratio"] <= 0.2
        assert params["trainer.batch_size"] in (8, 16)
    assert len({t["params"]["optim.lr"] for t in trials}) == 3


EXPERIMENT = """# @package _global_
# The search space as Hydra's Optuna sweeper documents it: hydra.sweeper.params, run with -m
defaults:
  - override /model: bert_tiny
  - override /search_space: lr_warmup

experiment_name: file_search
n_trials: 2
trainer:
  max_steps: 5
  checkpoint_every_n_steps: 5
  val_every_n_steps: 5
hydra:
  sweeper:
    params:
      optim.lr: interval(1e-4, 1e-3)
      trainer.batch_size: 8,16
"""


@pytest.mark.e2e
def test_hydra_sweeper_params_of_an_experiment_file_join_the_yaml_space_under_the_command_line(tmp_path):
    repo = tmp_path / "team-configs"
    (repo / "experiment").mkdir(parents=True)
    (repo / "experiment" / "file_search.yaml").write_text(EXPERIMENT)
    done = train_tune("-m", "--config-dir", str(repo), "experiment=file_search",
                      "optim.lr=tag(log, interval(2e-4, 2e-3))", *SHORT, *connection(tmp_path), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert output.count("started sweep file_search-none-") == 1, output[-4000:]

    (job,) = tmp_path.glob("multirun/*/*/*/sweep.json")
    # lr_warmup's entries keep their order; optim.lr takes the command line's (over the file's and the YAML's)
    assert searched_space(job.parent) == [
        {"key": "optim.lr", "type": "float", "low": 2e-4, "high": 2e-3, "log": True},
        {"key": "optim.warmup_ratio", "type": "categorical", "choices": [0.0, 0.06, 0.1]},
        {"key": "trainer.batch_size", "type": "categorical", "choices": [8, 16]},
    ]
    trials = json.loads(job.read_text())["trials"]
    assert len(trials) == 2 and all(t["state"] == "completed" for t in trials)
    for trial in trials:
        assert 2e-4 <= trial["params"]["optim.lr"] <= 2e-3 and trial["params"]["trainer.batch_size"] in (8, 16)
        assert trial["params"]["optim.warmup_ratio"] in (0.0, 0.06, 0.1)


@pytest.mark.parametrize("args, expected", [
    (["optim.lr=interval(1e-3, 1e-4)"], "optim.lr=interval(1e-3, 1e-4): low is 0.001 and high is 0.0001, but a "
                                        "search needs low < high"),
    (["model.name=interval(0, 1)"], "model.name=interval(0, 1): model.name is 'bert_tiny', but interval(...)"),
    (["optim.lr=tag(log, interval(1e-4, 3e-3))", "dataset.max_length=range(32, 65, 32)"],
     "a search sets model.*, optim.*, trainer.* keys, but 'dataset.max_length' is none of them"),
    # a searchable key whose edge value a run would refuse: the resolve-time check names key and value
    (["optim.lr=tag(log, interval(1e-4, 3e-3))", "trainer.batch_size=tag(int, interval(0, 8))"],
     "search_space.params.trainer.batch_size low=0"),
])
def test_bad_sweep_overrides_fail_in_one_line_before_anything_starts(tmp_path, args, expected):
    done = train_tune("-m", *args, f"run_root={tmp_path / 'runs'}", cwd=tmp_path, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output[-3000:]
    assert expected in output and "Traceback" not in output, output[-3000:]
    assert len(output.strip().splitlines()) == 1, output
    assert not (tmp_path / "runs" / "temporal.sqlite").exists()  # no server started
