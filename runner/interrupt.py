"""Ctrl-C in a command that watches a run (`status`, `results`, `cancel`, ...) leaves within a bounded time.

The first SIGINT goes on to asyncio as usual: the command's task is cancelled, its workers (if it took the
run over) let their trainings checkpoint, and it says "stopped watching". Twice in CI a watcher did not
leave after that (something in its clean-up waited on); so the first SIGINT also starts a deadline, and a
process still there when it passes writes every thread's stack to a file (for the bug report), says the
same line and exits 0: the run is safe either way, and the user gets the terminal back.
"""

from __future__ import annotations

import faulthandler
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

LEAVE_S = 30.0
"""How long a watcher that serves no training may take to leave after Ctrl-C."""
SERVING_LEAVE_S = 90.0
"""... and one whose workers serve trainings (they checkpoint first, within the workers' grace)."""


FOLLOWED: list[str] = []
"""The runs this process started or attached to (`runner.identity`), in order: what a Ctrl-C line names."""


def followed(workflow_id: str) -> None:
    FOLLOWED.append(workflow_id)


def continue_line(what: str, argv: list[str]) -> str:
    """One line: what happened (`what`), the run it left and the command that continues it (the same
    command attaches to its run, `runner.identity`)."""
    command = shlex.join(["train-tune", *argv])
    if not FOLLOWED:
        return f"{what} before a run started; start it with: {command}"
    return f"{what}; run {FOLLOWED[-1]} is safe at its last checkpoint; continue it with: {command}"


def bound_interrupt(deadline_s: Callable[[], float], say: Callable[[], str], stacks_file: Path,
                    code: int = 0) -> None:
    """From now on, the first SIGINT also starts a `deadline_s()` timer (read at that moment); past it,
    the stacks go to `stacks_file`, `say()` is printed and the process exits with `code`. Call it inside
    the running event loop (after `asyncio.run` installed its own SIGINT handler, which this one calls on)."""
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        return
    armed = threading.Event()

    def leave() -> None:
        try:
            stacks_file.parent.mkdir(parents=True, exist_ok=True)
            with stacks_file.open("w") as out:
                faulthandler.dump_traceback(out, all_threads=True)
            print(say(), flush=True)
            sys.stderr.flush()
        finally:
            os._exit(code)

    def on_sigint(signum: int, frame) -> None:
        if not armed.is_set():
            armed.set()
            timer = threading.Timer(deadline_s(), leave)
            timer.daemon = True
            timer.start()
        previous(signum, frame)

    signal.signal(signal.SIGINT, on_sigint)
