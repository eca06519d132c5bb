"""Who serves a run (`runner.standby`): a process holding a queue's serving lock, or a live poller; a dead
runner's lock and pollers do not count, so a watcher takes its run over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from runner.serving_locks import lock_path, locked_by_another, serving_locks
from runner.standby import alive

HOLD = """
import sys, time
from runner.serving_locks import serving_locks
with serving_locks(sys.argv[1], [sys.argv[2]]):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_serving_lock_counts_while_its_process_lives_even_when_it_is_killed(tmp_path):
    db_file = tmp_path / "temporal.sqlite"
    assert not locked_by_another(db_file, "train-tune-training")  # no lock file yet
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db_file), "train-tune-training"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert locked_by_another(db_file, "train-tune-training")
        assert not locked_by_another(db_file, "another-queue")  # each queue has its own lock
        assert locked_by_another(db_file, "train-tune-training")  # checking did not take it away
    finally:
        holder.kill()  # SIGKILL: the kernel releases its flock
        holder.wait()
    assert not locked_by_another(db_file, "train-tune-training")
    assert lock_path(db_file, "train-tune-training").parent == tmp_path  # beside the server's SQLite file


def test_this_process_holding_a_lock_makes_it_serving(tmp_path):
    db_file = tmp_path / "temporal.sqlite"
    with serving_locks(db_file, ["q1", "q2"]):
        assert oct(lock_path(db_file, "q1").stat().st_mode & 0o777) == "0o600"
        with serving_locks(db_file, ["q1"]):  # two holders (shared locks) do not wait for each other
            pass
    with serving_locks(None, ["q1"]):  # a remote cluster: nothing to hold
        pass


def test_a_poller_counts_only_while_its_process_lives():
    host = socket.gethostname()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert alive(f"{sleeper.pid}@{host}")
        assert not alive(f"{dead.pid}@{host}")  # a killed runner's poller, still listed by the server
        assert not alive(f"{os.getpid()}@{host}")  # this process's own workers are not someone else
        assert alive(f"{dead.pid}@another-host")  # another machine's worker: trusted as listed
        assert alive("my-custom-worker")
    finally:
        sleeper.kill()
        sleeper.wait()
