"""The keeper of one embedded Temporal server: `python -m runner.server_keeper DB_FILE SPEC_JSON`.

Started by `runner.embedded_server` in its own session. It starts `temporal server start-dev` on DB_FILE
(the asked port, or a free one when that is taken, also when it is taken between the check and the bind),
writes `DB.server.json` once the server itself listens, restarts the server on the same file (and port) when
it dies, and stops it, then exits, when no process holds `DB.lease` any more or on SIGTERM. When the server
cannot start, the state file carries one line naming the file and what to do, and the keeper exits.
The server dies with the keeper (PR_SET_PDEATHSIG), so none is ever left without one.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from runner import server_identity
from runner.embedded_server import (
    LEASE_SUFFIX,
    LOCK_SUFFIX,
    STATE_SUFFIX,
    ServerState,
    free_port,
    open_lock_file,
    port_is_free,
    read_state,
    server_command,
    sibling,
    write_state,
)

RESTARTS_IN_A_ROW = 3
"""A server that dies this many times in a row within STABLE_S of starting is not restarted again."""
STABLE_S = 30.0
PORT_TAKEN = "address already in use"


class StartFailed(Exception):
    """The server exited (or never listened) before serving; the message is the line for the user."""


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the keeper dies, so none is left orphaned."""
    with contextlib.suppress(OSError):  # not Linux: the keeper's own exit stops the server
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _logged(log_path: Path, offset: int) -> str:
    """What the server logged since `offset`."""
    try:
        with log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def reason(text: str) -> str:
    """The server's own error line in what it logged (its `Error:` line, else its first ERROR or panic)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for mark in ("Error:", "level=ERROR", "panic:"):
        found = [line for line in lines if mark in line]
        if found:
            return (found[-1] if mark == "Error:" else found[0]).removeprefix("Error: ")[:300]
    return (lines or [""])[-1][:300]


def advice(db_file: str, why: str) -> str:
    lowered = why.lower()
    if "no space" in lowered or "disk is full" in lowered or "disk full" in lowered:
        what = "free space on its filesystem, then run the command again"
    elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        what = ("the file is damaged: move it away (its runs' history is then lost; checkpoints and snapshots "
                "stay) and run the command again")
    else:
        what = "see the server log beside it; moving the file away starts an empty history"
    return f"the embedded Temporal server cannot start on {db_file} ({why or 'no reason logged'}): {what}"


class Keeper:
    def __init__(self, db_file: Path, spec: dict):
        self.db_file = db_file
        self.spec = spec
        self.port = int(spec["port"] or 0)
        self.ui_port = int(spec["ui_port"] or 0)
        self.process: subprocess.Popen | None = None
        self.log_path = db_file.with_suffix(".log")
        self.stopping = False

    def start(self) -> None:
        """Start the server and wait until the process itself listens on its port."""
        for _ in range(3):
            port = self.port if self.port and port_is_free(self.port) else free_port()
            ui_port = 0
            if self.ui_port:
                ui_port = self.ui_port if port_is_free(self.ui_port) and self.ui_port != port else free_port()
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            with self.log_path.open("ab") as log:
                process = subprocess.Popen(
                    server_command(str(self.db_file), port, ui_port, self.spec["namespace"]), stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)  # noqa: PLW1509 - the keeper runs no threads
            deadline = time.monotonic() + float(self.spec["startup_timeout_s"])
            while not server_identity.listens(process.pid, port):
                if self.stopping or process.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            else:
                self.process, self.port, self.ui_port = process, port, ui_port
                self.write()
                return
            self._end(process)
            if self.stopping:
                raise SystemExit(0)
            logged = _logged(self.log_path, offset)
            if PORT_TAKEN not in logged:
                raise StartFailed(advice(str(self.db_file), reason(logged) or "it did not listen in time"))
            self.port = self.ui_port = 0  # taken between the check and the bind: any free ports
        raise StartFailed(advice(str(self.db_file), "no free port could be bound"))

    def write(self, error: str = "") -> None:
        pid = self.process.pid if self.process else 0
        write_state(self.db_file, ServerState(pid, self.port, self.ui_port, str(self.db_file), self.spec["namespace"],
                                              keeper_pid=os.getpid(), error=error))

    def unused(self, lock: int, lease: int) -> bool:
        """True (keeping the lock, so nobody finds or starts meanwhile) when no process holds the lease."""
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        try:
            fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(lock, fcntl.LOCK_UN)
            return False
        return True

    def run(self) -> int:
        lock = open_lock_file(sibling(self.db_file, LOCK_SUFFIX))
        lease = open_lock_file(sibling(self.db_file, LEASE_SUFFIX))
        quick_deaths = 0
        try:
            self.start()
            started = time.monotonic()
            while not self.stopping:
                assert self.process is not None
                if self.process.poll() is not None:
                    print(f"train-tune: the Temporal server (pid {self.process.pid}) exited with "
                          f"{self.process.returncode}; restarting it on {self.db_file}", flush=True)
                    quick_deaths = quick_deaths + 1 if time.monotonic() - started < STABLE_S else 1
                    if quick_deaths >= RESTARTS_IN_A_ROW:
                        raise StartFailed(advice(str(self.db_file), f"the server exited {quick_deaths} times in "
                                                                    "a row right after starting"))
                    self.start()
                    started = time.monotonic()
                if self.unused(lock, lease):
                    break
                time.sleep(0.5)
        except StartFailed as failure:
            self.write(error=str(failure))
            print(f"train-tune: {failure}", flush=True)
            return 1
        finally:
            self._end(self.process)
            state = read_state(self.db_file)
            if state and state.keeper_pid == os.getpid() and not state.error:
                sibling(self.db_file, STATE_SUFFIX).unlink(missing_ok=True)
            os.close(lease)
            os.close(lock)
        return 0

    @staticmethod
    def _end(process: subprocess.Popen | None, timeout_s: float = 15.0) -> None:
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str]) -> int:
    db_file, spec = Path(argv[0]), json.loads(argv[1])
    keeper = Keeper(db_file, spec)

    def stop(*_: object) -> None:
        keeper.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the runner, which then leaves the lease
    return keeper.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
