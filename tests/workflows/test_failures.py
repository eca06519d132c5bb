"""Failures a retry cannot mend end the trial at once (non-retryable) with a clear reason, and the sweep
goes on: a diverged loss, out of memory, storage that cannot be written, a model folder that does not
load."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from activities.engine.fitting import fit
from activities.errors import TrainingDiverged, final_failure
from activities.snapshot import build_snapshot
from runner.resolve import resolve_run
from runner.worker import running_workers
from tests.conftest import SMALL_RUN, compose_config
from tests.workflows.test_ladder_sweep import small_sweep
from workflows.ladder_sweep import LadderSweepWorkflow
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import SnapshotRequest, TrainRequest
from workflows.payloads.specs import ParamSpec, SamplerSpec
from workflows.payloads.sweep import LadderSweepResult


async def test_a_diverging_trial_fails_once_with_its_reason_and_the_sweep_goes_on(temporal_env, run_root, queues):
    sweep = small_sweep(run_root, queues, [10, 20], 2)
    sweep.space = [ParamSpec(key="optim.lr", type="categorical", choices=[1e-3, 1e8])]
    sweep.sampler = SamplerSpec(name="grid", seed=0)
    async with running_workers(temporal_env.client, queues, max_concurrent_training=2):
        handle = await temporal_env.client.start_workflow(LadderSweepWorkflow.run, sweep, id=f"nan-{queues.training}",
                                                          task_queue=queues.orchestration)
        result: LadderSweepResult = await handle.result()
    by_lr = {t.params["optim.lr"]: t for t in result.trials}
    diverged, healthy = by_lr[1e8], by_lr[1e-3]
    assert diverged.state == "failed" and "TrainingDiverged" in diverged.error and "loss is nan" in diverged.error
    assert "lower optim.lr" in diverged.error
    assert healthy.state == "completed" and result.best_trial == healthy.number
    fails = [d for d in result.decisions if d.kind == "fail"]
    assert len(fails) == 1 and fails[0].trial == diverged.number
    # non-retryable: exactly one attempt's log folder
    assert [p.name for p in (Path(diverged.checkpoint_dir) / "logs").iterdir()] == ["to10-attempt1"]


def test_failures_that_a_retry_cannot_mend_are_final_and_say_why(tmp_path):
    import errno

    assert final_failure(RuntimeError("worker lost its GPU")) is None  # retried by Temporal
    assert final_failure(ConnectionError("broken pipe")) is None
    diverged = final_failure(TrainingDiverged("the training loss is nan at step 3 (optim.lr=1e+08)"))
    assert diverged.non_retryable and diverged.type == "TrainingDiverged"
    oom = final_failure(MemoryError("cannot allocate 4 GiB"), batch_size=512)
    assert oom.non_retryable and "trainer.batch_size=512" in str(oom) and "lower trainer.batch_size" in str(oom)
    full = final_failure(OSError(errno.ENOSPC, "No space left on device", "/runs/checkpoints/x/step1.ckpt"))
    assert full.non_retryable and full.type == "StorageError" and "/runs/checkpoints/x/step1.ckpt" in str(full)
    assert final_failure(ConfigError("dataset.path is ''")).type == "ConfigError"


def test_an_unwritable_checkpoint_folder_is_a_storage_error(run_root, tmp_path):
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=10"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the checkpoint folder's parent should be")
    request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot, seed=0,
                           checkpoint_dir=str(blocker / "trial0"))
    with pytest.raises(OSError) as info:
        fit(request, None, lambda p: None, threading.Event(), 1)
    final = final_failure(info.value)
    assert final is not None and final.type == "StorageError" and "not_a_folder" in str(final)


def test_a_model_folder_that_does_not_load_is_a_config_error(tmp_path):
    from activities.models import load_classifier
    from workflows.payloads.specs import ModelSpec

    folder = tmp_path / "broken_model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert", "hidden_size": 32}')
    (folder / "model.safetensors").write_bytes(b"not really safetensors")
    with pytest.raises(ConfigError, match="model.name_or_path is '.*broken_model', but transformers cannot load it"):
        load_classifier(ModelSpec(name="broken", name_or_path=str(folder)), 2, ["a", "b"])


async def test_a_workflow_id_that_would_escape_the_run_root_trains_nothing(temporal_env, run_root, queues, tmp_path):
    """A run started by another client with a crafted id: its checkpoint folder would land outside
    `${run_root}/checkpoints`, so the training refuses at once (non-retryable) and writes nothing there."""
    from temporalio.client import WorkflowFailureError

    from runner.submit import start_run

    run, plain = resolve_run(compose_config(*SMALL_RUN, f"run_root={tmp_path / 'runs'}", "trainer.max_steps=10"))
    run.queues = queues
    async with running_workers(temporal_env.client, queues):
        handle = await start_run(temporal_env.client, run, plain, workflow_id="../../escaped")
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    assert "escapes" in str(info.value.cause.cause) and info.value.cause.retry_state.name == "NON_RETRYABLE_FAILURE"
    assert not (tmp_path / "escaped").exists()


def test_a_real_allocation_failure_is_out_of_memory_not_retried(run_root, tmp_path):
    """A model too big for this machine (a ~1 PB embedding): the CPU allocator refuses, and the failure is
    final with the advice to shrink, instead of five retries that fail the same way."""
    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=10",
                                        "model.architecture.hidden_size=8388608",
                                        "model.architecture.num_attention_heads=1"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot, seed=0,
                           checkpoint_dir=str(tmp_path / "trial0"))
    with pytest.raises(RuntimeError) as info:
        fit(request, None, lambda p: None, threading.Event(), 1)
    final = final_failure(info.value, run.trainer.batch_size)
    assert final is not None and final.type == "OutOfMemory" and final.non_retryable
    assert "can't allocate memory" in str(final) and "lower trainer.batch_size" in str(final)


@pytest.fixture
def small_disk(tmp_path):
    """A real 40 MiB filesystem (tmpfs), unmounted afterwards; skipped where mounting is not allowed."""
    import subprocess

    mount = tmp_path / "small_disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_save_that_does_not_fit_names_it_and_keeps_the_checkpoints_before(run_root, small_disk):
    """Disk full for real: a tiny BERT's checkpoints (~24 MB each, weights and Adam state) on a 40 MiB
    filesystem. The first fits; the second cannot: the failure is final (StorageError, no retry), names
    that checkpoint, leaves no temp file, and the first checkpoint still verifies and resumes."""
    from activities.engine.checkpoint_files import checkpoint_problem, resume_checkpoint

    run, _ = resolve_run(compose_config(*SMALL_RUN, f"run_root={run_root}", "trainer.max_steps=10",
                                        "trainer.checkpoint_every_n_steps=5", "trainer.val_every_n_steps=50"))
    snapshot = build_snapshot(SnapshotRequest(run.dataset, run.model.tokenizer, run.run_root))
    folder = small_disk / "trial0"
    request = TrainRequest(model=run.model, optim=run.optim, trainer=run.trainer, snapshot=snapshot, seed=0,
                           checkpoint_dir=str(folder))
    with pytest.raises(OSError) as info:
        fit(request, None, lambda p: None, threading.Event(), 1)
    final = final_failure(info.value)
    assert final is not None and final.type == "StorageError" and final.non_retryable
    assert "No space left on device" in str(final) and str(folder / "step00000010.ckpt") in str(final)
    assert not list(folder.glob("*.tmp"))
    first = folder / "step00000005.ckpt"
    assert checkpoint_problem(first) == ""
    assert resume_checkpoint(folder) == (first, [])
