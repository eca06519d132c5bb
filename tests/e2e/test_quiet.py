"""What a plain run prints (README "What a run looks like"): progress, results and where files went; every
log line goes to `train-tune.log` in its output folder. Ctrl-C and a server that dies for good end with one
line naming the run and the command that continues it, never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import SMALL_RUN, free_port
from tests.e2e.test_cli import train_tune
from tests.support.hangs import ctrl_c_able, wait_or_dump

ANSI = re.compile(r"\x1b\[")


def group_ctrl_c_able() -> None:
    """A terminal's Ctrl-C goes to the foreground process group: the runner leads its own."""
    ctrl_c_able()
    os.setpgrp()


def start_run(tmp_path: Path, log: Path, *overrides: str) -> tuple[subprocess.Popen, list[str]]:
    args = [*SMALL_RUN, "trainer.max_steps=3000", f"run_root={tmp_path / 'runs'}", f"temporal.port={free_port()}",
            "temporal.ui=false", *overrides]
    runner = subprocess.Popen(["train-tune", *args], cwd=tmp_path, stdout=log.open("w"), stderr=subprocess.STDOUT,
                              preexec_fn=group_ctrl_c_able)  # noqa: PLW1509 - it only resets a signal disposition
    for _ in range(3000):  # until it trains
        if re.search(r"\[train\]  step [1-9]", log.read_text()) or runner.poll() is not None:
            break
        time.sleep(0.2)
    assert runner.poll() is None, log.read_text()[-4000:]
    return runner, args


def one_line_with_continue(output: str, args: list[str], what: str) -> None:
    assert "Traceback" not in output and not ANSI.search(output), output[-4000:]
    lines = [line for line in output.splitlines() if what in line]
    assert len(lines) == 1, output[-4000:]
    assert re.search(r"run \S+ is safe at its last checkpoint; continue it with: train-tune ", lines[0]), lines[0]
    assert lines[0].endswith(" ".join(args[-3:])), lines[0]  # the command as it was given
    assert output.rstrip().endswith(lines[0]), output[-4000:]  # the last thing said


@pytest.mark.e2e
def test_a_plain_run_piped_shows_progress_and_results_and_logs_the_rest(tmp_path):
    done = train_tune(*SMALL_RUN, "trainer.max_steps=20", f"run_root={tmp_path / 'runs'}",
                      f"temporal.port={free_port()}", "temporal.ui=false", cwd=tmp_path, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    for noise in ("TMPRL1103", "weights_only", "log_every_n_steps", "Traceback", "worker shutdown",
                  "temporalio", "activity_id"):
        assert noise not in output, (noise, output[-4000:])
    assert not ANSI.search(output), output[-4000:]
    assert "[train]  step" in output and "test metrics" in output and "result written to" in output
    log = Path(re.search(r"log written to (\S+)", output).group(1))
    logged = log.read_text()
    assert log.parent == Path(re.search(r"result written to (\S+)", output).group(1)).parent
    assert "Beginning worker shutdown" in logged and "'activity_id'" in logged, logged[-3000:]
    assert "trained steps 0..20" in logged  # the training's own log line, with its context


@pytest.mark.e2e
def test_ctrl_c_on_a_plain_run_says_one_line_and_the_command_that_continues(tmp_path):
    log = tmp_path / "run.log"
    runner, args = start_run(tmp_path, log)
    os.killpg(runner.pid, signal.SIGINT)  # Ctrl-C on the terminal
    assert wait_or_dump(runner, 180, log) == 130, log.read_text()[-4000:]
    one_line_with_continue(log.read_text(), args, "interrupted")


@pytest.mark.e2e
def test_a_server_that_dies_for_good_ends_a_plain_run_with_one_line(tmp_path):
    """The embedded server is killed each time its keeper restarts it, until the keeper gives up."""
    log = tmp_path / "run.log"
    runner, args = start_run(tmp_path, log)
    state_file = tmp_path / "runs" / "temporal.sqlite.server.json"
    killed: set[int] = set()
    deadline = time.monotonic() + 300
    while runner.poll() is None and time.monotonic() < deadline:
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("pid") and state["pid"] not in killed and not state.get("error"):
            killed.add(state["pid"])
            with contextlib.suppress(ProcessLookupError):  # it died already
                os.kill(state["pid"], signal.SIGKILL)
        time.sleep(0.1)
    assert wait_or_dump(runner, 180, log) == 1, log.read_text()[-4000:]
    assert len(killed) >= 3
    one_line_with_continue(log.read_text(), args, "the embedded Temporal server cannot start")
