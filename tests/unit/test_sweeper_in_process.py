"""`hydra/sweeper=train_tune` in process, no server: without a search override it is Hydra's BasicSweeper
(Hydra's own sweeper test suites - comma lists, sweeps beside other overrides, batches of max_batch_size -
pass on it unchanged, on Hydra's example app with the basic launcher); with one, the app runs once, on one
job whose config holds the search space."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hydra.test_utils.launcher_common_tests import BatchedSweeperTestSuite, LauncherTestSuite
from hydra.version import VersionBase
from packaging.version import Version

# Hydra's example app runs at version base 1.1, which changes the working directory and says so
pytestmark = pytest.mark.filterwarnings("ignore:Future Hydra versions will no longer change working directory")


@pytest.fixture(autouse=True)
def hydra_compat_base() -> Iterator[None]:
    """Hydra's suites expect its default version base (1.1: a job runs in its own folder); the tests that
    compose train-tune's config before these leave Hydra's global base at 1.3."""
    base = VersionBase.instance()
    before = base.getbase()
    base.setbase(Version("1.1"))
    yield
    base.version_base = before


@pytest.mark.parametrize("launcher_name, overrides", [("basic", ["hydra/sweeper=train_tune"])])
class TestCommaListsFanOutAsBasicSweeper(LauncherTestSuite):
    pass


@pytest.mark.parametrize("launcher_name, overrides",
                         [("basic", ["hydra/sweeper=train_tune", "hydra.sweeper.max_batch_size=2"])])
class TestBatchesAsBasicSweeper(BatchedSweeperTestSuite):
    pass


def test_a_search_runs_the_app_once_on_one_job_that_holds_the_space(hydra_sweep_runner, tmp_path):
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import DictConfig, OmegaConf

    from runner.config_schema import register_configs

    register_configs()
    jobs = []

    def app(cfg: DictConfig) -> None:  # stands in for runner.launch.run_config: records what it was given
        jobs.append((OmegaConf.to_container(cfg.search_space.params), cfg.n_trials, cfg.ladder.kind.name,
                     HydraConfig.get().job.num, list(HydraConfig.get().overrides.task)))

    overrides = ["hydra/launcher=basic", "experiment=bert_sweep", "optim.lr=tag(log, interval(1e-5, 1e-3))",
                 "trainer.batch_size=16,32", "n_trials=4"]
    with hydra_sweep_runner(calling_file=None, calling_module="runner.cli", task_function=app,
                            config_path="pkg://conf", config_name="config", overrides=overrides, temp_dir=tmp_path):
        pass
    ((space, n_trials, kind, num, task),) = jobs
    assert (n_trials, kind, num) == (4, "sha", 0)
    assert space == [  # bert_sweep's lr_warmup_tiny with optim.lr replaced in place, then the comma list
        {"key": "optim.lr", "type": "float", "low": 1e-5, "high": 1e-3, "log": True, "step": None, "choices": [],
         "when": {}},
        {"key": "optim.warmup_ratio", "type": "categorical", "low": None, "high": None, "log": False, "step": None,
         "choices": [0.0, 0.06], "when": {}},
        {"key": "trainer.batch_size", "type": "categorical", "low": None, "high": None, "log": False, "step": None,
         "choices": [16, 32], "when": {}},
    ]
    assert task[:2] == ["experiment=bert_sweep", "n_trials=4"] and task[2].startswith("search_space.params=[")
