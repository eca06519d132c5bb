"""`train-tune`: a Hydra app (compose + overrides, `--cfg job`, `--help`, `-m`, shell completion), plus
the `train-tune worker` command that serves task queues of an existing server.

    train-tune experiment=bert_single model=bert_tiny trainer.max_steps=200 optim.lr=3e-4
    train-tune worker queue=training temporal=remote temporal.address=HOST:7233
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import hydra
from hydra import compose, initialize_config_module
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from rich.markup import escape
from temporalio.service import RPCError

from activities.archive import ArchiveError
from activities.confinement import Confinement, make_private_dir, use_private_umask
from activities.shared_storage import configure_storage
from runner import identity
from runner.best_config import origin_line, origin_of, origin_repo
from runner.commands import COMMANDS, run_command
from runner.compose_errors import run_composing
from runner.config_schema import register_configs
from runner.connect import temporal_connection
from runner.coordinate import run_coordinator
from runner.embedded_server import EmbeddedServerError
from runner.exit_codes import (
    BAD_INPUT,
    FAILED,
    INTERRUPTED,
    RunFailed,
    check_outcome,
    error_message,
    exit_code,
    one_line_activity_failures,
)
from runner.identity import attach_or_start_run, recorded_repo
from runner.interrupt import SERVING_LEAVE_S, bound_interrupt, continue_line
from runner.provenance import ConfigRepoState, checked_repo_state, config_folder, repo_line
from runner.quiet import log_file, route_logs
from runner.resolve import resolve_run, to_plain
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

WORKER_HELP = """usage: train-tune worker [KEY=VALUE ...]

Serve train-tune's task queues. Config: conf/worker.yaml, e.g.
  queue=all|training|orchestration     which queues to serve (default all)
  max_concurrent_activities=1          trainings at once on this worker
  shutdown_grace_s=60                  on SIGTERM: time for running trainings to save a checkpoint
  progress_bar=auto|true|false         Lightning's progress bar per training (auto: on a terminal)
  temporal=remote temporal.address=HOST:PORT temporal.namespace=NS
  run_root=PATH                        shared storage for snapshots and checkpoints; everything this
                                       worker writes or deletes lies inside it (created owner-only)
  data_dirs=[DIR,...]                  folders it may read dataset files from, beside run_root and
                                       installed packages (anything else is refused)
With temporal.address unset it serves the embedded server of run_root (starting it if needed).
"""


def use_storage(plain: dict[str, Any], run_root: str) -> None:
    """This process's shared storage (`storage.uri`), for its embedded workers and its plots."""
    configure_storage(plain["storage"]["uri"], run_root, plain["storage"]["endpoint_url"])


def fail(message: str, code: int = 2, label: str = "error: ") -> NoReturn:
    console.print(f"[bold red]{label}[/]{escape(message)}" if label else message, highlight=False, soft_wrap=True,
                  markup=bool(label))
    sys.exit(code)


async def run_and_report(run: TrainEvalInput, plain: dict[str, Any], output_dir: Path,
                         repo: ConfigRepoState | None = None) -> None:
    async with serving(plain["temporal"], run.run_root, run.queues, readable=run_inputs(run)) as connection:
        attachment = await attach_or_start_run(connection.client, run, plain, repo, identity.START_NEW)
        handle = attachment.handle
        try:
            result = await follow(handle)
        except WorkflowFailureError as error:
            fail(f"workflow {handle.id} failed: {failure_message(error)}", code=1)
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
        fail(continue_line("interrupted", argv), code=INTERRUPTED, label="")
    except EmbeddedServerError as error:  # it cannot serve any more: the runs wait in its SQLite file
        fail(continue_line(str(error), argv), code=exit_code(error) or FAILED)
    except RPCError as error:  # a server (remote, or embedded past its restarts) stopped answering
        fail(continue_line(f"the Temporal server stopped answering ({error})", argv), code=FAILED)


@hydra.main(version_base="1.3", config_path="pkg://conf", config_name="config")
def run_app(cfg: DictConfig) -> None:
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    route_logs(bool(cfg.verbose))  # log lines to train-tune.log in output_dir; the terminal stays readable
    try:
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
        say_repo(repo)  # once the config is valid: bad input stays one line
        use_storage(plain, run.run_root)
        if sweep is not None:
            result = run_bounded(run_sweep(sweep, plain, output_dir, repo=repo, new=identity.START_NEW), output_dir)
            check_outcome(sweep.name, result)  # exit 1 when every trial failed
            return
        run_bounded(run_and_report(run, plain, output_dir, repo), output_dir)
    except ConfigError as error:
        fail(str(error), code=exit_code(error) or BAD_INPUT)
    except (RunFailed, WorkflowFailureError) as error:  # the run ended and failed: one line, exit 1
        fail(error_message(error), code=FAILED)
    except ArchiveError as error:  # the run ended, but its sweep archive cannot be read back: name the part
        fail(str(error), code=1)


def compose_connection(argv: list[str]) -> dict[str, Any]:
    """Connection settings (temporal group, run_root, worker keys) from KEY=VALUE overrides."""
    try:
        with initialize_config_module(config_module="conf", version_base="1.3"):
            cfg = compose(config_name="worker", overrides=argv)
        return to_plain(cfg)
    except Exception as error:  # Hydra's override/compose errors name the key
        fail(str(error))
        raise


def worker_command(argv: list[str]) -> None:
    if any(arg in ("-h", "--help") for arg in argv):
        print(WORKER_HELP)
        return
    plain = compose_connection(argv)
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

    try:
        asyncio.run(serve())
    except ConfigError as error:
        fail(str(error), code=exit_code(error) or BAD_INPUT)


def quiet_libraries() -> None:
    """Keep the run's own progress readable: Lightning's banner lines and tips are noise here."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")


def main() -> None:
    """Run the command, then leave with `os._exit`: the Temporal client's native threads can abort a
    short-lived process during interpreter finalization (temporalio/sdk-python#300). Everything this
    process owns (server, workers, files) is closed before this point."""
    code: int = 0
    try:
        _main()
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
            code = 1
        else:
            code = int(exit_.code or 0)
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # noqa: BLE001 - a bug: its traceback, then the exit code, before os._exit
        traceback.print_exc()
        code = 1
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _main() -> None:
    use_private_umask()  # what this process and its servers write is owner-only (activities.confinement)
    register_configs()
    quiet_libraries()
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if "--new" in sys.argv[1:] and command not in COMMANDS and command != "worker":
        identity.START_NEW = True  # a flag of ours, not Hydra's: a fresh run even if this config has one
        sys.argv.remove("--new")
    if "-v" in sys.argv[1:] and command not in COMMANDS and command != "worker":
        sys.argv[sys.argv.index("-v")] = "verbose=true"  # ours too: Hydra has no -v
    if command == "worker":
        worker_command(sys.argv[2:])
        return
    one_line_activity_failures()  # the runner's own workers: a failed run is reported once, in one line
    if command in COMMANDS:
        try:
            run_command(command, sys.argv[2:], compose_connection)
        except Exception as error:  # each expected error has its exit code (runner.exit_codes)
            code = exit_code(error)
            if code is None:
                raise  # a bug: keep its traceback
            fail(error_message(error), code=code)
        return
    run_composing(run_app, fail, BAD_INPUT)


if __name__ == "__main__":
    main()
