"""When a process a test started does not end in time: what each of its threads was doing (py-spy), so a
hang seen once on a loaded CI machine can be read from the failure, not guessed at."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path


def stacks(pid: int) -> str:
    """py-spy's dump of every thread of `pid` ('' when py-spy is not installed or cannot attach)."""
    spy = shutil.which("py-spy")
    if spy is None:
        return ""
    try:
        return subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60,
                              check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def wait_or_dump(process: subprocess.Popen, timeout_s: float, log: Path | None = None) -> int:
    """`process.wait(timeout_s)`; past it, fail with the process's thread stacks and the end of its log."""
    try:
        return process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        said = log.read_text()[-3000:] if log is not None and log.exists() else ""
        raise AssertionError(f"pid {process.pid} still running after {timeout_s:.0f} s\n--- its stacks:\n"
                             f"{stacks(process.pid)}\n--- its output:\n{said}") from None


def ctrl_c_able() -> None:
    """`preexec_fn` of a process a test sends Ctrl-C (SIGINT) to: pytest-xdist's workers ignore SIGINT and
    a child inherits that, so without this the signal never reaches the process as a user's Ctrl-C would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
