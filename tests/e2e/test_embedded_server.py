"""The embedded server belongs to one run_root: it is adopted only when proven to serve that run_root's
SQLite file, started once however many processes ask at the same instant, kept while any of them needs it,
restarted when it dies, and a server that cannot start again is named in one line.

Real `temporal server start-dev` processes on 127.0.0.1 and free ports; every test leaves through
`stop()`, and checks by PID that nothing it started is left running."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runner import server_identity
from runner.embedded_server import STATE_SUFFIX, EmbeddedServer, EmbeddedServerError
from tests.conftest import SMALL_RUN, compose_config, free_port


def servers_of(db_file: Path) -> list[int]:
    """PIDs of the live Temporal servers started on `db_file` (from /proc, whoever started them)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and server_identity.running(int(entry)):
            argv = server_identity.command_line(int(entry))
            if "start-dev" in argv and str(db_file.resolve()) in argv:
                pids.append(int(entry))
    return pids


def wait_until(condition, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def embedded(port: int) -> dict:
    return {"address": None, "db_file": "temporal.sqlite", "namespace": "default", "port": port, "ui_port": 0,
            "ui": False}


async def namespace_answers(address: str) -> bool:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

    from runner.connect import EMBEDDED_RETRY, connect_client

    # as the runner connects: a server that just started may answer "Frontend is not healthy yet"
    client = await connect_client(address, "default", retry_config=EMBEDDED_RETRY)
    return await client.workflow_service.get_system_info(GetSystemInfoRequest()) is not None


def test_a_copied_state_file_or_a_port_held_by_someone_else_is_never_adopted(tmp_path):
    theirs_db, mine_db = tmp_path / "theirs" / "temporal.sqlite", tmp_path / "mine" / "temporal.sqlite"
    theirs = EmbeddedServer.ensure(theirs_db, port=free_port(), ui=False)
    mine = None
    try:
        # their server's state file copied into my run_root, asking for their port
        mine_db.parent.mkdir()
        shutil.copy(Path(str(theirs_db.resolve()) + STATE_SUFFIX), Path(str(mine_db) + STATE_SUFFIX))
        mine = EmbeddedServer.ensure(mine_db, port=theirs.state.port, ui=False)
        assert mine.started_here and mine.address != theirs.address
        assert server_identity.serves(mine.state.pid, mine.state.port, str(mine_db.resolve()))
        assert servers_of(mine_db) == [mine.state.pid] and servers_of(theirs_db) == [theirs.state.pid]
    finally:
        if mine:
            mine.stop()
        theirs.stop()
    assert servers_of(mine_db) == servers_of(theirs_db) == []


def test_a_state_file_naming_a_port_that_another_process_now_holds_is_not_trusted(tmp_path, monkeypatch):
    db_file = tmp_path / "temporal.sqlite"
    with socket.socket() as foreign:  # "someone else's server": a live process (this one) answering on the port
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = foreign.getsockname()[1]
        state = {"pid": os.getpid(), "port": port, "ui_port": 0, "db_file": str(db_file), "namespace": "default"}
        Path(str(db_file) + STATE_SUFFIX).write_text(json.dumps(state))
        # the check said "free", then someone bound the port before the server could (the race of two folders)
        monkeypatch.setattr("runner.embedded_server.port_is_free", lambda p: True)
        server = EmbeddedServer.ensure(db_file, port=port, ui=False)
        try:
            assert server.state.port != port, "a taken port means another port, never someone else's server"
            assert server_identity.serves(server.state.pid, server.state.port, str(db_file.resolve()))
        finally:
            server.stop()
    assert servers_of(db_file) == []


def test_users_starting_at_the_same_instant_share_one_server_per_run_root(tmp_path):
    roots = {"a1": tmp_path / "a", "a2": tmp_path / "a", "b": tmp_path / "b"}
    port, barrier, found, errors = free_port(), threading.Barrier(3), {}, []

    def user(name: str) -> None:
        try:
            barrier.wait()
            found[name] = EmbeddedServer.ensure(roots[name] / "temporal.sqlite", port=port, ui=False)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(f"{name}: {error!r}")

    threads = [threading.Thread(target=user, args=(name,)) for name in roots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    try:
        assert not errors, errors
        a1, a2, b = found["a1"], found["a2"], found["b"]
        assert a1.state.pid == a2.state.pid and a1.address == a2.address, "one server for one run_root"
        assert [a1.started_here, a2.started_here].count(True) == 1
        assert b.address != a1.address and b.started_here
        assert servers_of(tmp_path / "a" / "temporal.sqlite") == [a1.state.pid]
        assert servers_of(tmp_path / "b" / "temporal.sqlite") == [b.state.pid]
        for server in (a1, a2, b):
            assert asyncio.run(namespace_answers(server.address))
    finally:
        for server in found.values():
            server.stop()
    deadline = time.monotonic() + 15  # a stopped server's process may take a moment to be reaped
    while (servers_of(tmp_path / "a" / "temporal.sqlite") or servers_of(tmp_path / "b" / "temporal.sqlite")) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert servers_of(tmp_path / "a" / "temporal.sqlite") == servers_of(tmp_path / "b" / "temporal.sqlite") == []


def test_a_shared_server_lives_until_its_last_user_leaves(tmp_path):
    db_file = tmp_path / "temporal.sqlite"
    first = EmbeddedServer.ensure(db_file, port=free_port(), ui=False)
    second = EmbeddedServer.ensure(db_file, port=free_port(), ui=False)
    try:
        assert first.started_here and not second.started_here and first.address == second.address
        first.stop()  # the one that started it leaves first
        assert second.state.serving() and asyncio.run(namespace_answers(second.address))
    finally:
        second.stop()
        first.stop()
    assert servers_of(db_file) == [] and not server_identity.running(first.state.keeper_pid)
    assert not Path(str(db_file) + STATE_SUFFIX).exists()


def test_a_user_that_dies_leaves_no_server_behind(tmp_path):
    db_file = tmp_path / "temporal.sqlite"
    script = ("import sys, time; from pathlib import Path; from runner.embedded_server import EmbeddedServer; "
              f"s = EmbeddedServer.ensure(Path({str(db_file)!r}), port=0, ui=False); print(s.state.pid, flush=True); "
              "time.sleep(600)")
    runner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    try:
        pid = int(runner.stdout.readline())
        assert servers_of(db_file) == [pid]
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()
    assert wait_until(lambda: servers_of(db_file) == []), "the server outlived its only user"


async def test_the_runner_follows_its_run_through_a_server_sigkill(tmp_path, queues):
    from runner.resolve import resolve_run
    from runner.submit import follow, start_run
    from runner.worker import serving
    from workflows.train_eval import TrainEvalWorkflow

    run, plain = resolve_run(compose_config(*SMALL_RUN, f"run_root={tmp_path}", "trainer.max_steps=40"))
    run.queues = queues
    killed: list[int] = []

    async def kill_the_server_mid_training(handle, server: EmbeddedServer) -> None:
        while True:
            status = await handle.query(TrainEvalWorkflow.status)
            if status.stage == "train" and status.progress.step >= 5:
                break
            await asyncio.sleep(0.2)
        killed.append(server.state.pid)
        os.kill(server.state.pid, signal.SIGKILL)

    async with serving(embedded(free_port()), str(tmp_path), queues) as connection:
        handle = await start_run(connection.client, run, plain)
        killer = asyncio.ensure_future(kill_the_server_mid_training(handle, connection.server))
        result = await asyncio.wait_for(follow(handle), timeout=500)
        await killer
        server = connection.server
        assert killed and server.state.pid != killed[0] and server.state.port == server.connected_port
        assert servers_of(tmp_path / "temporal.sqlite") == [server.state.pid], "restarted on the same file"
    assert result.train.global_step == 40 and result.metrics
    assert servers_of(tmp_path / "temporal.sqlite") == []


def test_a_damaged_sqlite_file_is_named_in_one_line_at_start(tmp_path):
    db_file = tmp_path / "temporal.sqlite"
    db_file.write_bytes(os.urandom(8192))
    with pytest.raises(EmbeddedServerError) as raised:
        EmbeddedServer.ensure(db_file, port=free_port(), ui=False)
    message = str(raised.value)
    assert "\n" not in message and str(db_file.resolve()) in message and "move it away" in message, message
    assert "RPCError" not in message and servers_of(db_file) == []


async def test_a_server_that_cannot_restart_mid_run_is_named_in_one_line(tmp_path):
    from runner.connect import temporal_connection

    db_file = tmp_path / "temporal.sqlite"
    with pytest.raises(EmbeddedServerError) as raised:
        async with temporal_connection(embedded(free_port()), str(tmp_path)) as connection:
            # the file is replaced by a damaged one under the running server, which then dies
            damaged = tmp_path / "damaged"
            damaged.write_bytes(os.urandom(8192))
            os.replace(damaged, db_file)
            for suffix in ("-wal", "-shm"):
                Path(str(db_file) + suffix).unlink(missing_ok=True)
            os.kill(connection.server.state.pid, signal.SIGKILL)
            await asyncio.sleep(120)
    message = str(raised.value)
    assert "\n" not in message and str(db_file.resolve()) in message and "move it away" in message, message
    assert servers_of(db_file) == []


@pytest.mark.e2e
def test_two_runs_started_together_in_one_folder_share_one_server_and_both_finish(tmp_path):
    """The issue's case: two runners on one run_root at the same instant (today one dies with SQLITE_BUSY),
    and the one that finishes first leaves the server to the other (today it stops it under the other)."""
    runs, port = tmp_path / "runs", free_port()
    common = [f"run_root={runs}", f"temporal.port={port}", "temporal.ui=false", "model=bert_tiny", "dataset=bbc_news",
              "dataset.max_length=64", "trainer.batch_size=16", "trainer.checkpoint_every_n_steps=10",
              "trainer.val_every_n_steps=10", "optim.lr=1e-3"]
    runners = {}
    for name, steps in (("short", 10), ("long", 30)):
        folder = tmp_path / name
        folder.mkdir()
        runners[name] = subprocess.Popen(
            ["train-tune", *common, f"trainer.max_steps={steps}", f"dataset.max_samples={200 if steps == 10 else 240}",
             f"temporal.training_queue=train-{name}", f"temporal.orchestration_queue=orch-{name}"],
            cwd=folder, stdout=(folder / "log").open("w"), stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"})
    try:
        for runner in runners.values():
            runner.wait(540)
    finally:
        for runner in runners.values():
            if runner.poll() is None:
                runner.kill()
                runner.wait()
    logs = {name: (tmp_path / name / "log").read_text() for name in runners}
    for name, runner in runners.items():
        assert runner.returncode == 0, f"{name}: {logs[name][-3000:]}"
        assert "completed" in logs[name] and "Traceback" not in logs[name], logs[name][-3000:]
    told = sorted("started" if "embedded Temporal server started" in log else "found" for log in logs.values())
    assert told == ["found", "started"], logs
    assert servers_of(runs / "temporal.sqlite") == []
