"""What the `train-tune` command writes is owner-only, a `train-tune worker` confines its work to the
run_root and data_dirs of its own config, and an API key never goes out over plain TCP."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError

from runner.connect import connect_client, tls_config
from runner.resolve import resolve_run
from tests.conftest import SMALL_RUN, compose_config, free_port
from workflows.train_eval import TrainEvalWorkflow

ROOT = Path(__file__).resolve().parents[2]
TINY = ("trainer.max_steps=2", "trainer.checkpoint_every_n_steps=2", "trainer.val_every_n_steps=2")


def open_to_others(path: Path) -> list[str]:
    """`path` and everything under it that its group or others may read, write or enter."""
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    return [f"{p} {stat.filemode(p.stat().st_mode)}" for p in paths if p.stat().st_mode & 0o077]


@pytest.mark.e2e
def test_what_a_run_writes_is_owner_only(tmp_path):
    run_root = tmp_path / "runs"
    done = subprocess.run(
        ["bash", "-c", 'umask 022 && exec train-tune "$@"', "train-tune", "experiment=bert_single",
         "dataset.max_samples=100", "dataset.max_length=32", *TINY, f"run_root={run_root}",
         f"temporal.port={free_port()}", "temporal.ui=false"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    result = next(tmp_path.glob("outputs/*/*/result.json"))
    assert stat.S_IMODE(run_root.stat().st_mode) == 0o700
    assert (run_root / "temporal.sqlite").is_file() and list((run_root / "snapshots").iterdir())
    assert list((run_root / "checkpoints").rglob("*.ckpt"))
    assert open_to_others(run_root) == [] and open_to_others(result) == []


def start_worker(address: str, queues, run_root: Path, log: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "runner.cli", "worker", f"temporal.address={address}",
         f"temporal.training_queue={queues.training}", f"temporal.orchestration_queue={queues.orchestration}",
         f"run_root={run_root}", *extra],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def refused_by(client, run, queues) -> str:
    run.queues = queues
    handle = await client.start_workflow(TrainEvalWorkflow.run, run, id=f"handmade-{uuid.uuid4().hex[:8]}",
                                         task_queue=queues.orchestration)
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(handle.result(), timeout=240)
    activity_error: Any = failure.value.cause
    assert activity_error.retry_state.name == "NON_RETRYABLE_FAILURE", activity_error
    return str(activity_error.cause)


@pytest.mark.e2e
async def test_a_worker_takes_its_limits_from_its_own_config(temporal_env, queues, tmp_path):
    own, other, data, private = (tmp_path / name for name in ("own", "other", "data", "private"))
    data.mkdir()
    private.mkdir(mode=0o700)
    for folder in (data, private):
        rows = "".join(f"{'the market fell' if i % 2 else 'the team won'} {i},{'ab'[i % 2]}\n" for i in range(40))
        (folder / "train.csv").write_text("text,label\n" + rows)
    address = temporal_env.client.service_client.config.target_host
    log = tmp_path / "worker.log"
    worker = start_worker(address, queues, own, log, f"data_dirs=[{data}]")
    try:
        run, _ = resolve_run(compose_config(*SMALL_RUN, *TINY, "dataset=csv", f"dataset.data_files.train={data}/train.csv",
                                            f"run_root={own}"))
        elsewhere = await refused_by(temporal_env.client, replace(run, run_root=str(other)), queues)
        run.dataset = replace(run.dataset, data_files={"train": str(private / "train.csv")})
        unreadable = await refused_by(temporal_env.client, run, queues)
    finally:
        worker.terminate()
        worker.wait(60)
    assert f"is '{other}', but this worker's run_root is '{own.resolve()}'" in elsewhere, elsewhere
    assert f"dataset.data_files.train is '{private / 'train.csv'}', which lies outside" in unreadable, unreadable
    assert f"'{data.resolve()}'" in unreadable  # the data_dirs it was started with
    assert not other.exists() and stat.S_IMODE(own.stat().st_mode) == 0o700


async def test_an_api_key_without_tls_settings_goes_out_over_tls_only(monkeypatch):
    """A plain TCP listener sees what the client sends first: a TLS ClientHello, not an HTTP/2 preface
    followed by `authorization: Bearer ...` in the clear."""
    monkeypatch.setenv("TT_KEY", "tt-secret-never-in-the-clear")
    first_bytes: list[bytes] = []

    async def listen(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first_bytes.append(await reader.read(64))
        writer.close()

    server = await asyncio.start_server(listen, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    temporal = {"address": f"127.0.0.1:{port}", "namespace": "default", "tls": None, "api_key_env": "TT_KEY"}
    async with server:
        with pytest.raises(Exception):  # noqa: B017 - nobody answers; only the bytes matter
            await connect_client(temporal["address"], "default", tls_config(temporal), os.environ["TT_KEY"], attempts=1)
    assert first_bytes and first_bytes[0][:1] == b"\x16", first_bytes  # TLS handshake record
    assert not any(b"PRI * HTTP/2.0" in sent or b"tt-secret" in sent for sent in first_bytes)
