"""`train-tune`: a Hydra app (compose + overrides, `--cfg job`, `--help`, `-m`, shell completion), plus
the `train-tune worker` command that serves task queues of an existing server.

    train-tune experiment=bert_single model=bert_tiny trainer.max_steps=200 optim.lr=3e-4
    train-tune worker queue=training temporal=remote temporal.address=HOST:7233

This module imports only what Hydra needs to compose: `--help`, `--cfg job` and every Tab press of shell
completion start a process that runs nothing. What runs (`runner.launch`, `runner.commands`) and its
imports (Temporal, the workers; torch and Lightning in the activities) load where it starts.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
import warnings
from typing import Any, NoReturn

import hydra
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

from activities.private_files import use_private_umask
from runner.compose_errors import run_composing
from runner.config_schema import register_configs
from runner.exit_codes import BAD_INPUT, FAILED, error_message, exit_code, one_line_activity_failures
from runner.shared_config_store import share_config_store
from workflows.payloads.errors import ConfigError

COMMAND_NAMES = ("rerun", "status", "results", "cancel", "pause", "resume", "stop", "extend", "export", "predict")
"""The commands of `runner.commands.COMMANDS`, named here so that telling them from overrides imports none."""

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


def fail(message: str, code: int = 2, label: str = "error: ") -> NoReturn:
    from rich.markup import escape

    from runner.submit import console

    console.print(f"[bold red]{label}[/]{escape(message)}" if label else message, highlight=False, soft_wrap=True,
                  markup=bool(label))
    sys.exit(code)


@hydra.main(version_base="1.3", config_path="pkg://conf", config_name="config")
def run_app(cfg: DictConfig) -> None:
    from activities.archive import ArchiveError
    from runner.exit_codes import RunFailed, RunLeft
    from runner.launch import run_config
    from runner.submit import WorkflowFailureError

    try:
        run_config(cfg)
    except ConfigError as error:
        fail(str(error), code=exit_code(error) or BAD_INPUT)
    except RunLeft as error:  # Ctrl-C, or a server that stopped: the run goes on; the command continues it
        fail(str(error), code=error.exit_code, label=error.label)
    except (RunFailed, WorkflowFailureError) as error:  # the run ended and failed: one line, exit 1
        fail(error_message(error), code=FAILED)
    except ArchiveError as error:  # the run ended, but its sweep archive cannot be read back: name the part
        fail(str(error), code=1)


def compose_connection(argv: list[str]) -> dict[str, Any]:
    """Connection settings (temporal group, run_root, worker keys) from KEY=VALUE overrides."""
    try:
        with initialize_config_module(config_module="conf", version_base="1.3"):
            cfg = compose(config_name="worker", overrides=argv)
    except Exception as error:  # Hydra's override/compose errors name the key
        fail(str(error))
        raise
    from runner.resolve import to_plain

    return to_plain(cfg)


def worker_command(argv: list[str]) -> None:
    if any(arg in ("-h", "--help") for arg in argv):
        print(WORKER_HELP)
        return
    plain = compose_connection(argv)
    from runner.launch import serve_worker

    try:
        serve_worker(plain)
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
    use_private_umask()  # what this process and its servers write is owner-only (activities.private_files)
    register_configs()
    share_config_store()  # Hydra 1.3 copies the ConfigStore ~100 times for --help (runner.shared_config_store)
    quiet_libraries()
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if "--new" in sys.argv[1:] and command not in COMMAND_NAMES and command != "worker":
        from runner import identity

        identity.START_NEW = True  # a flag of ours, not Hydra's: a fresh run even if this config has one
        sys.argv.remove("--new")
    if "-v" in sys.argv[1:] and command not in COMMAND_NAMES and command != "worker":
        sys.argv[sys.argv.index("-v")] = "verbose=true"  # ours too: Hydra has no -v
    if command == "worker":
        worker_command(sys.argv[2:])
        return
    one_line_activity_failures()  # the runner's own workers: a failed run is reported once, in one line
    if command in COMMAND_NAMES:
        from runner.commands import run_command  # Temporal's client and what the command shows

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
