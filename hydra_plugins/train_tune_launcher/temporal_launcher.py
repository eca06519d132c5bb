"""TemporalLauncher: resolve every job of a Hydra multirun, then run them all as children of one
CoordinatorWorkflow (at most `parallelism` at once) instead of one after another in this process.

Hydra's job numbering, per-job output folders (with `.hydra/`) and `multirun.yaml` stay as usual: each job
is set up with Hydra's own `run_job`, whose task only validates and resolves the job's config.
"""


import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict


@dataclass
class TemporalLauncherConf:
    _target_: str = "hydra_plugins.train_tune_launcher.temporal_launcher.TemporalLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="temporal", node=TemporalLauncherConf, provider="train-tune")


def _resolve_job(cfg: DictConfig):
    # Hydra imports every plugin when it scans for them: the runner loads only once this one launches
    from runner.resolve import resolve_run
    from runner.sweep_config import refuse_sweep_keys

    run, plain = resolve_run(cfg)
    refuse_sweep_keys(plain, "a multirun's job (one run per comma-list combination)")  # budget, enqueue, ...
    return run, plain


class TemporalLauncher(Launcher):
    def __init__(self) -> None:
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        # Hydra imports every plugin when it scans for them: the runner loads only once this one launches
        from runner.cli import fail
        from runner.coordinate import run_coordinator
        from runner.exit_codes import BAD_INPUT, RunFailed, RunLeft, check_outcome
        from runner.launch import run_bounded
        from runner.submit import console
        from workflows.payloads.errors import ConfigError
        from workflows.payloads.runs import CoordinatorJob

        assert self.config is not None and self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        from runner.provenance import checked_repo_state, config_folder  # as above: loaded on launch

        repo = checked_repo_state(config_folder(self.config.hydra.runtime.config_sources),
                                  bool(self.config.get("require_clean_config", False)))
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        from runner.quiet import route_logs  # as above: loaded on launch

        route_logs(bool(self.config.get("verbose", False)), sweep_dir / "train-tune.log")

        returns: list[JobReturn] = []
        jobs: list[CoordinatorJob] = []
        plains: list[dict[str, Any]] = []
        for offset, overrides in enumerate(job_overrides):
            index = initial_job_idx + offset
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = f"job{index}"
                sweep_config.hydra.job.num = index
            ret = run_job(
                hydra_context=self.hydra_context, task_function=_resolve_job, config=sweep_config,
                job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir",
            )
            if ret.status == JobStatus.FAILED:
                error = ret._return_value
                message = str(error) if isinstance(error, ConfigError) else f"{type(error).__name__}: {error}"
                # one line and exit 2 (bad config, nothing started); SystemExit passes Hydra's error report
                console.print(f"[bold red]error:[/] job {index} ({' '.join(filter_overrides(overrides))}): "
                              f"{message.splitlines()[0] if message else ''}", highlight=False, soft_wrap=True)
                raise SystemExit(BAD_INPUT)
            run, plain = ret.return_value
            jobs.append(CoordinatorJob(index=index, overrides=list(filter_overrides(overrides)), run=run))
            plains.append(plain)
            returns.append(ret)

        first = plains[0]
        from activities.shared_storage import configure_storage  # as above: loaded on launch

        configure_storage(first["storage"]["uri"], jobs[0].run.run_root, first["storage"]["endpoint_url"])
        try:
            coordinator, status = run_bounded(run_coordinator(
                jobs, name=first["experiment_name"], parallelism=int(first["parallelism"]), temporal=first["temporal"],
                run_root=jobs[0].run.run_root, output_dir=sweep_dir, repo=repo,
            ), sweep_dir)
        except RunLeft as error:  # Ctrl-C or a server that stopped: one line and the command that continues
            fail(str(error), code=error.exit_code, label=error.label)
        by_index = {job.index: job for job in status.jobs}
        for ret, job in zip(returns, jobs, strict=False):
            state = by_index[job.index]
            assert ret.hydra_cfg is not None
            out = Path(ret.hydra_cfg.hydra.runtime.output_dir)
            (out / "result.json").write_text(json.dumps(asdict(state), indent=2))
            ret.return_value = asdict(state)
        failed = [j for j in status.jobs if j.state != "completed"]
        if failed:
            console.print(f"{len(failed)} of {len(status.jobs)} jobs did not complete", highlight=False)
        try:
            check_outcome(coordinator, status)
        except RunFailed as error:  # exit 1, one line (Hydra would report a raised error with its traceback)
            console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise SystemExit(error.exit_code) from None
        return returns
