"""Checkpoints, logs and snapshots shared through an S3-compatible server (moto's, on loopback, started
and stopped by the test): what one machine trained, another resumes, evaluates, plots and prunes, with
nothing but the storage URI in common. "Another machine" is the same run_root path emptied."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.shared_storage import configure_storage
from runner.resolve import resolve_run
from tests.conftest import SMALL_RUN, compose_config, free_port
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import SnapshotRequest, TrainRequest

BUCKET = "tt-shared"


@pytest.fixture
def s3_server(monkeypatch, tmp_path):
    pytest.importorskip("s3fs")
    pytest.importorskip("moto")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=open(tmp_path / "moto.log", "wb"),
                              start_new_session=True)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "moto.log").read_text()
                time.sleep(0.3)
        import s3fs

        s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint}).mkdir(BUCKET)
        yield endpoint
    finally:
        configure_storage("", "")
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)


async def test_another_machine_resumes_evaluates_plots_and_prunes_through_s3(s3_server, tmp_path):
    import s3fs

    from activities.checkpoints import load_trained_classifier, prune_checkpoint_files
    from activities.engine.fitting import fit
    from activities.snapshot import build_snapshot
    from activities.train import train
    from runner.plots import folder_learning_curve

    run_root = tmp_path / "local"  # each machine's working copy, at the same path everywhere
    storage = configure_storage(f"s3://{BUCKET}/team", str(run_root), s3_server)
    s3 = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_server})
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=40",
                                        "trainer.checkpoint_every_n_steps=10", "trainer.val_every_n_steps=10",
                                        "trainer.keep_last_checkpoints=5"))

    # machine A: snapshot and the first rung segment
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    folder = run_root / "checkpoints" / "sweep-x" / "trial0"
    request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot, seed=0,
                           checkpoint_dir=str(folder), stop_at_step=20, run_root=run.run_root, signal_progress=False)
    fit(request, None, lambda p: None, threading.Event(), 1)
    remote = f"{BUCKET}/team/checkpoints/sweep-x/trial0"
    names = sorted(Path(p).name for p in s3.ls(remote))
    assert {"logs", "best.ckpt", "best.ckpt.sha256", "step00000010.ckpt", "step00000010.ckpt.sha256",
            "step00000020.ckpt", "step00000020.ckpt.sha256"} <= set(names), names
    assert s3.exists(f"{BUCKET}/team/snapshots/{snapshot.id}/snapshot.json")
    # an upload cut off by a crash: a newer checkpoint without its digest
    s3.pipe(f"{remote}/step00000030.ckpt", b"half a checkpoint")

    # machine B: nothing local; the next segment fetches the snapshot and the newest verified checkpoint
    shutil.rmtree(run_root)
    result = await ActivityEnvironment().run(train, dataclasses.replace(request, stop_at_step=40))
    assert result.resumed_from_step == 20 and result.global_step == 40
    assert any("remote step00000030.ckpt: no checksum file" in s for s in result.skipped_checkpoints)
    assert s3.exists(f"{remote}/step00000040.ckpt.sha256")

    # machine C: evaluation fetches the checkpoint it scores; the plots fetch the logs
    shutil.rmtree(run_root)
    model = load_trained_classifier(run.model, result.last_checkpoint, snapshot.label_names)
    assert model is not None and Path(result.last_checkpoint).is_file()
    curve = folder_learning_curve(folder, "val_loss")
    assert [step for step, _ in curve] == [10, 20, 30, 40]

    # pruning a demoted trial deletes its remote checkpoints too; its logs stay
    prune_checkpoint_files(folder, run_root / "checkpoints" / "sweep-x")
    left = sorted(Path(p).name for p in s3.ls(remote))
    assert not [n for n in left if ".ckpt" in n] and "logs" in left, left
    assert storage.active


def test_a_storage_uri_fsspec_cannot_open_fails_at_once(tmp_path):
    with pytest.raises(ConfigError, match="storage.uri is 'nosuch://bucket', but fsspec cannot open it"):
        configure_storage("nosuch://bucket", str(tmp_path))
    configure_storage("", "")
