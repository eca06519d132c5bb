"""TrainTuneSweeper, the app's default sweeper: `-m optim.lr='tag(log, interval(1e-4, 3e-3))'` searches.

Overrides in the grammar of Hydra's Optuna sweeper (interval, range, choice, tag; `hydra.sweeper.params` in
a config) become the `search_space.params` of one job, which runs as one LadderSweepWorkflow with the
config's ladder, sampler and n_trials. Without any such override it is Hydra's BasicSweeper: comma lists
fan out into jobs for the launcher (`hydra/launcher=temporal`). The work is in `_core` (and
`_search_space`), which Hydra's plugin scan does not import, so `--help` and shell completion stay light.
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class TrainTuneSweeperConf:
    _target_: str = "hydra_plugins.train_tune_sweeper.train_tune_sweeper.TrainTuneSweeper"
    max_batch_size: Optional[int] = None
    """Jobs handed to the launcher at once when comma lists fan out (BasicSweeper's key)."""
    params: Optional[Dict[str, str]] = None
    """Sweep overrides by key (`optim.lr: tag(log, interval(1e-4, 3e-3))`), as Hydra's sweepers document;
    the command line's override of the same key wins."""


ConfigStore.instance().store(group="hydra/sweeper", name="train_tune", node=TrainTuneSweeperConf, provider="train-tune")


class TrainTuneSweeper(Sweeper):
    def __init__(self, max_batch_size: Optional[int] = None, params: Optional[Dict[str, str]] = None) -> None:
        self.max_batch_size = max_batch_size
        self.params = dict(params or {})
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.task_function: Optional[TaskFunction] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def sweep(self, arguments: List[str]) -> Any:
        from ._core import run_sweep  # loaded only when a multirun starts (see the module docstring)

        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        return run_sweep(self.hydra_context, self.task_function, self.config, self.max_batch_size, self.params,
                         arguments)
