"""Ctrl-C in a watching command leaves within a bounded time even when its clean-up hangs, says so in one
line, exits 0 and leaves what it was doing in a stacks file; a clean-up that ends in time is not cut short."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.hangs import ctrl_c_able

SCRIPT = """
import asyncio, sys, time
from pathlib import Path
from runner.interrupt import bound_interrupt

async def command():
    bound_interrupt(lambda: 1.0, lambda: "stopped watching; the run goes on", Path(sys.argv[1]))
    print("watching", flush=True)
    while True:
        try:
            await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            if sys.argv[2] == "hang":
                time.sleep(3600)  # a clean-up that never ends
            raise

try:
    asyncio.run(command())
except KeyboardInterrupt:
    print("left by itself", flush=True)
"""


def interrupted(tmp_path: Path, mode: str) -> tuple[int, str, float, Path]:
    stacks = tmp_path / "logs" / "stacks.txt"
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(stacks), mode], stdout=subprocess.PIPE, text=True,
                               preexec_fn=ctrl_c_able)  # noqa: PLW1509 - it only resets a signal disposition
    assert process.stdout is not None and process.stdout.readline().strip() == "watching"
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        code = process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    return code, process.stdout.read(), time.monotonic() - started, stacks


def test_a_clean_up_that_hangs_is_cut_at_the_deadline_with_its_stacks_kept(tmp_path):
    code, said, took, stacks = interrupted(tmp_path, "hang")
    assert code == 0 and said.strip() == "stopped watching; the run goes on", said
    assert 0.9 < took < 20
    assert "command" in stacks.read_text() and "time.sleep" not in said  # where it hung, in the file only


def test_a_clean_up_in_time_leaves_by_itself(tmp_path):
    code, said, _, stacks = interrupted(tmp_path, "clean")
    assert code == 0 and said.strip() == "left by itself", said
    assert not stacks.exists()
