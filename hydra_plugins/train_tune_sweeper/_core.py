"""What `TrainTuneSweeper.sweep` does: search overrides (interval, range, choice, tag) become one job whose
`search_space.params` hold them, run once through the app (`runner.launch.run_config`: one
LadderSweepWorkflow); without any, Hydra's BasicSweeper fans the comma lists out to the launcher."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, configure_log, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import Container, DictConfig, OmegaConf, open_dict

from workflows.payloads.errors import ConfigError

from ._search_space import (
    is_search,
    last_overrides,
    merged_params,
    plan,
    searches,
    space_override,
    sweeper_lines,
)


def run_sweep(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig,
              max_batch_size: int | None, params: Mapping[str, str], arguments: list[str]) -> Any:
    """One search job when any override searches, else BasicSweeper's fan-out; bad sweep overrides end
    in one line and exit 2 before anything starts."""
    from runner.exit_codes import BAD_INPUT  # the runner loads only once a multirun starts

    try:
        job = search_job(hydra_context, config, sweeper_lines(params, arguments)) if searches(params, arguments) \
            else None
    except ConfigError as error:
        from runner.cli import fail

        fail(str(error), code=BAD_INPUT)
    if job is None:
        # imported here: Hydra's plugin scan may load its module again, and BasicSweeper's super() call needs
        # the class that module holds now
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

        basic = BasicSweeper(max_batch_size=max_batch_size, params=dict(params))
        basic.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        return basic.sweep(arguments)
    return [[run_search(hydra_context, task_function, config, job)]]


def search_job(hydra_context: HydraContext, config: DictConfig,
               lines: Sequence[str]) -> list[str] | None:
    """The overrides of the one job a search runs, or None when no override searches."""
    overrides = last_overrides(lines)
    if not any(is_search(o) for o in overrides):  # e.g. the file's search cancelled by fixed values
        return None
    loader = hydra_context.config_loader
    base = loader.load_sweep_config(config, [o.input_line or "" for o in overrides if not o.is_sweep_override()])

    def current(key: str) -> Any:
        value = OmegaConf.select(base, key, default=None)
        if isinstance(value, Enum):
            return value.name
        return OmegaConf.to_container(value, resolve=True) if isinstance(value, Container) else value

    searched = plan(overrides, lambda key: bool(loader.get_group_options(key)), current)
    yaml = OmegaConf.to_container(base.search_space.params, resolve=True)
    assert isinstance(yaml, list)
    return [*searched.fixed, space_override(merged_params(yaml, searched.params))]


def run_search(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig,
               overrides: list[str]) -> JobReturn:
    """Run the app once on the search job, in Hydra's job folder `multirun/DATE/TIME/0`."""
    setup_globals()
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    sweep_dir = Path(config.hydra.sweep.dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    job_config = hydra_context.config_loader.load_sweep_config(config, overrides)
    with open_dict(job_config):
        job_config.hydra.job.id = "job0"
        job_config.hydra.job.num = 0
    ret = run_job(hydra_context=hydra_context, task_function=task_function, config=job_config,
                  job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
    _ = ret.return_value  # a failed job raises its error here, as in BasicSweeper
    return ret
