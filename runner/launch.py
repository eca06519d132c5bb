"""What `train-tune` does once Hydra has composed a config that runs something: one run, its variants
or a sweep, and the `train-tune worker` command. `runner.cli` imports this module only then, so `--help`,
`--cfg job` and shell completion never load Temporal, the workers or what they import.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from hydra import compose
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from temporalio.service import RPCError

from activities.confinement import Confinement
from activities.private_files import make_private_dir
from activities.shared_storage import configure_storage
from runner import identity
from runner.best_config import origin_line, origin_of, origin_repo
from runner.connect import temporal_connection
from runner.coordinate import run_coordinator
from runner.embedded_server import EmbeddedServerError
from runner.exit_codes import FAILED, INTERRUPTED, RunFailed, RunLeft, check_outcome, exit_code
from runner.identity import attach_or_start_run, recorded_repo
from runner.interrupt import SERVING_LEAVE_S, bound_interrupt, continue_line
from runner.objectives_config import refuse_outside_sweep
from runner.provenance import ConfigRepoState, checked_repo_state, config_folder, repo_line
from runner.quiet import log_file, route_logs
from runner.resolve import resolve_run, to_plain
from runner.schedule_config import refuse_in_sweep
from runner.serving_locks import serving_locks
from runner.submit import WorkflowFailureError, console, follow, print_result, write_result
from runner.sweep_config import is_sweep, resolve_sweep
from runner.sweep_session import run_sweep
from runner.worker import run_inputs, serve_until_signalled, serving
from workflows.coordinator import failure_message
from workflows.payloads.errors import ConfigError
from workflows.payloads.runs import CoordinatorJob, TrainEvalInput
from workflows.payloads.specs import TaskQueues

T = TypeVar("T")


def use_storage(plain: dict[str, Any], run_root: str) -> None:
    """This process's shared storage (`storage.uri`), for its embedded workers and its plots."""
    configure_storage(plain["storage"]["uri"], run_root, plain["storage"]["endpoint_url"])


async def run_and_report(run: TrainEvalInput, plain: dict[str, Any], output_dir: Path,
                         repo: ConfigRepoState | None = None) -> None:
    async with serving(plain["temporal"], run.run_root, run.queues, readable=run_inputs(run)) as connection:
        attachment = await attach_or_start_run(connection.client, run, plain, repo, identity.START_NEW)
        handle = attachment.handle
        try:
            result = await follow(handle)
        except WorkflowFailureError as error:
            raise RunFailed(f"workflow {handle.id} failed: {failure_message(error)}") from None
        print_result(handle.id, result)
        origin = origin_of(plain)  # a sweep's best_config.yaml: which sweep and trial it reproduces
        if origin:
            console.print(origin_line(origin, result.train.global_step, result.train.final_score), highlight=False,
                          markup=False)
        written = write_result(output_dir, handle.id, result, await recorded_repo(attachment, repo), origin)
        console.print(f"result written to {written}", highlight=False)
        say_log()


def say_log() -> None:
    """Where the log lines went (the terminal shows them only with verbose=true)."""
    path = log_file()
    if path is not None:
        console.print(f"log written to {path}", highlight=False, soft_wrap=True)


def override_value(value: Any) -> str:
    """A config value written in Hydra's override grammar."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(override_value(v) for v in value) + "]"
    if value is None:
        return "null"
    return str(value)


def resolve_variants(cfg: DictConfig) -> list[CoordinatorJob]:
    """One job per entry of `variants`: the command line's overrides plus the entry's, composed by Hydra."""
    command_line = list(HydraConfig.get().overrides.task)
    jobs = []
    for index, variant in enumerate(cfg.variants):
        overrides = [f"{key}={override_value(value)}" for key, value in to_plain_variant(variant).items()]
        try:
            composed = compose(config_name="config", overrides=[*command_line, *overrides, "variants=[]"])
            run, _ = resolve_run(composed)
        except ConfigError as error:
            raise ConfigError(f"variants[{index}] ({' '.join(overrides)}): {error}") from error
        except Exception as error:  # Hydra's compose errors name the key
            raise ConfigError(f"variants[{index}] ({' '.join(overrides)}): {error}".splitlines()[0]) from error
        jobs.append(CoordinatorJob(index=index, overrides=overrides, run=run))
    return jobs


def to_plain_variant(variant: Any) -> dict[str, Any]:
    plain = OmegaConf.to_container(variant, resolve=True) if not isinstance(variant, dict) else variant
    if not isinstance(plain, dict) or not plain:
        raise ConfigError(f"variants entry is {plain!r}, but must be a non-empty mapping of KEY: VALUE overrides")
    return {str(key): value for key, value in plain.items()}


def say_repo(repo: ConfigRepoState) -> None:
    """Which config commit the run uses, and whether its repo was dirty (nothing when not in git)."""
    line = repo_line(repo)
    if line:
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def run_bounded(main: Coroutine[Any, Any, T], output_dir: Path) -> T:
    """`asyncio.run(main)`; Ctrl-C leaves within a bounded time (`runner.interrupt`) with one line saying
    which run it left and the command that continues it, exit 130; so does a server that stopped serving."""
    async def bounded() -> T:
        bound_interrupt(lambda: SERVING_LEAVE_S, lambda: continue_line("interrupted", sys.argv[1:]),
                        output_dir / "stacks-at-ctrl-c.txt", code=INTERRUPTED)
        return await main

    argv = sys.argv[1:]
    try:
        return asyncio.run(bounded())
    except KeyboardInterrupt:
        raise RunLeft(continue_line("interrupted", argv), INTERRUPTED) from None
    except EmbeddedServerError as error:  # it cannot serve any more: the runs wait in its SQLite file
        raise RunLeft(continue_line(str(error), argv), exit_code(error) or FAILED, "error: ") from None
    except RPCError as error:  # a server (remote, or embedded past its restarts) stopped answering
        raise RunLeft(continue_line(f"the Temporal server stopped answering ({error})", argv), FAILED,
                      "error: ") from None


def run_config(cfg: DictConfig) -> None:
    """Run what the composed `cfg` asks for (one run, its variants, or a sweep) and report it; raises
    ConfigError, RunFailed, WorkflowFailureError or ArchiveError for `runner.cli` to say in one line."""
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    route_logs(bool(cfg.verbose))  # log lines to train-tune.log in output_dir; the terminal stays readable
    # a sweep's best_config.yaml lives in the outputs folder: its config came from the sweep's config repo
    repo = origin_repo(origin_of(to_plain(cfg))) or checked_repo_state(config_folder(), bool(cfg.require_clean_config))
    if cfg.variants:
        jobs = resolve_variants(cfg)
        plain = to_plain(cfg)
        say_repo(repo)
        use_storage(plain, jobs[0].run.run_root)
        coordinator, status = run_bounded(run_coordinator(
            jobs, name=plain["experiment_name"], parallelism=plain["parallelism"], temporal=plain["temporal"],
            run_root=jobs[0].run.run_root, output_dir=output_dir, repo=repo,
        ), output_dir)
        check_outcome(coordinator, status)
        return
    run, plain = resolve_run(cfg)
    sweep = resolve_sweep(run, plain) if is_sweep(plain) else None
    if sweep is not None:
        refuse_in_sweep(run)
    else:
        refuse_outside_sweep(plain)
    say_repo(repo)  # once the config is valid: bad input stays one line
    use_storage(plain, run.run_root)
    if sweep is not None:
        result = run_bounded(run_sweep(sweep, plain, output_dir, repo=repo, new=identity.START_NEW), output_dir)
        check_outcome(sweep.name, result)  # exit 1 when every trial failed
        return
    run_bounded(run_and_report(run, plain, output_dir, repo), output_dir)


def serve_worker(plain: dict[str, Any]) -> None:
    """`train-tune worker`: serve the task queues `plain` (conf/worker.yaml composed) names until signalled."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # only the worker command sets the training's progress bar: the other commands never load the engine
    from activities.engine.progress_bar import show_progress_bar

    show_progress_bar(plain["progress_bar"] == "true" or (plain["progress_bar"] == "auto" and sys.stderr.isatty()))
    temporal = plain["temporal"]
    queues = TaskQueues(training=temporal["training_queue"], orchestration=temporal["orchestration_queue"])
    run_root = str(Path(plain["run_root"]).expanduser().resolve())

    async def serve() -> None:
        use_storage(plain, run_root)
        # on the embedded server of run_root it serves beside the runners, so it reads what they granted too
        confinement = Confinement.of(make_private_dir(run_root), plain["data_dirs"], grants=not temporal.get("address"))
        async with temporal_connection(temporal, run_root) as connection:
            served = [q for role, q in (("orchestration", queues.orchestration), ("training", queues.training))
                      if plain["queue"] in ("all", role)]  # watchers of the embedded server leave these to it
            with serving_locks(connection.server.db_file if connection.server else None, served):
                await serve_until_signalled(
                    connection.client, queues, plain["queue"], plain["max_concurrent_activities"],
                    float(plain["shutdown_grace_s"]), confinement,
                )

    asyncio.run(serve())
