"""PBT's exploit hand-off (`activities.copy_checkpoint`) on real checkpoint files written by the engine's
own writer: the copy verifies, an unusable source or a folder outside the run root fails for good with a
named error, a retry after a crash mid-copy ends the same, and the target's replaced step checkpoints go
while everything else in its folder stays."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.copy_checkpoint import copy_checkpoint
from activities.engine.checkpoint_files import (
    STEP_FILE,
    TMP_SUFFIX,
    checkpoint_problem,
    digest_path,
    file_sha256,
    resume_checkpoint,
    step_checkpoint_name,
)
from activities.engine.checkpoint_io import ChecksummedCheckpointIO
from activities.shared_storage import configure_storage
from workflows.layout import CHECKPOINTS, LOGS
from workflows.payloads.messages import CopyCheckpointRequest
from workflows.payloads.names import CONFIG_ERROR, SOURCE_UNUSABLE


def save(folder: Path, step: int, weight: float, name: str = "") -> Path:
    """A checkpoint and its digest as the engine's writer saves them (global step and tensors)."""
    path = folder / (name or step_checkpoint_name(step))
    ChecksummedCheckpointIO().save_checkpoint({"global_step": step, "state_dict": {"w": torch.full((64,), weight)}},
                                              path)
    return path


@pytest.fixture
def trials(tmp_path) -> tuple[Path, Path, Path]:
    """run_root, a source trial with step checkpoints at 10 and 20, a target trial with its own at 10, 20 and
    30, its best checkpoint, logs and `last_step`."""
    run_root = tmp_path / "run_root"
    source, target = run_root / CHECKPOINTS / "sweep" / "trial1", run_root / CHECKPOINTS / "sweep" / "trial2"
    for step in (10, 20):
        save(source, step, 1.0)
    for step in (10, 20, 30):
        save(target, step, 2.0)  # the target's own weights, at the same steps
    save(target, 30, 2.0, "best.ckpt")
    (target / LOGS / "version_0").mkdir(parents=True)
    (target / LOGS / "version_0" / "metrics.csv").write_text("step,train_loss\n30,0.5\n")
    (target / STEP_FILE).write_text("30 1\n")
    return run_root, source, target


def request(run_root: Path, source: Path | str, target: Path | str, step: int = 20) -> CopyCheckpointRequest:
    return CopyCheckpointRequest(run_root=str(run_root), source_dir=str(source), target_dir=str(target), step=step)


def copy(req: CopyCheckpointRequest):
    return ActivityEnvironment().run(copy_checkpoint, req)


def failure(req: CopyCheckpointRequest) -> ApplicationError:
    with pytest.raises(ApplicationError) as error:
        copy(req)
    assert error.value.non_retryable and "\n" not in str(error.value)
    return error.value


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_copy_is_the_sources_checkpoint_and_the_targets_resume_point(trials):
    run_root, source, target = trials
    own_step10, own_best = (target / step_checkpoint_name(10)).read_bytes(), (target / "best.ckpt").read_bytes()
    result = copy(request(run_root, source, target))

    copied = target / step_checkpoint_name(20)
    assert result.checkpoint == str(copied) and result.step == 20
    assert result.sha256 == file_sha256(source / step_checkpoint_name(20)) == file_sha256(copied)
    assert copied.read_bytes() == (source / step_checkpoint_name(20)).read_bytes()
    assert checkpoint_problem(copied) == ""
    assert resume_checkpoint(target) == (copied, [])
    # the target's own checkpoints at steps >= 20 are gone; its older one, best checkpoint, logs stay
    assert not (target / step_checkpoint_name(30)).exists() and not digest_path(target / step_checkpoint_name(30)).exists()
    assert (target / step_checkpoint_name(10)).read_bytes() == own_step10
    assert (target / "best.ckpt").read_bytes() == own_best and checkpoint_problem(target / "best.ckpt") == ""
    assert (target / LOGS / "version_0" / "metrics.csv").is_file() and (target / STEP_FILE).is_file()
    assert not list(target.glob(f"*{TMP_SUFFIX}"))
    assert torch.load(copied, weights_only=True)["global_step"] == 20


@pytest.mark.parametrize("damage", ["altered", "missing", "no digest"])
def test_an_unusable_source_fails_for_good_naming_the_file_and_leaves_the_target_alone(trials, damage):
    run_root, source, target = trials
    checkpoint = source / step_checkpoint_name(20)
    if damage == "altered":
        data = bytearray(checkpoint.read_bytes())
        data[len(data) // 2] ^= 0xFF
        checkpoint.write_bytes(bytes(data))
    elif damage == "missing":
        checkpoint.unlink()
    else:
        digest_path(checkpoint).unlink()
    before = listing(target)

    error = failure(request(run_root, source, target))
    assert error.type == SOURCE_UNUSABLE
    assert str(checkpoint) in str(error)
    assert {"altered": "does not match the recorded", "missing": "missing",
            "no digest": "no checksum file"}[damage] in str(error)
    assert listing(target) == before


def test_folders_outside_the_run_roots_checkpoints_are_refused(trials, tmp_path):
    run_root, source, target = trials
    outside = tmp_path / "outside"
    save(outside, 20, 3.0)
    escape = run_root / CHECKPOINTS / ".." / ".." / "outside"
    link = run_root / CHECKPOINTS / "sweep" / "trial9"
    link.symlink_to(outside, target_is_directory=True)  # inside by name, outside in fact

    for req, key, value in [
        (request(run_root, escape, target), "source_dir", str(escape)),
        (request(run_root, source, escape), "target_dir", str(escape)),
        (request(run_root, link, target), "source_dir", str(link)),
        (request(run_root, source, link), "target_dir", str(link)),
        (request(run_root, source, run_root / "snapshots" / "s"), "target_dir", "snapshots"),
    ]:
        error = failure(req)
        assert error.type == CONFIG_ERROR and f"CopyCheckpointRequest.{key}" in str(error) and value in str(error)
    untouched = outside / step_checkpoint_name(20)
    assert sorted(outside.iterdir()) == [untouched, digest_path(untouched)]

    assert "the source folder itself" in str(failure(request(run_root, source, source)))
    assert "must be >= 1" in str(failure(request(run_root, source, target, step=0)))


@pytest.mark.parametrize("crash", ["while copying", "between the renames"])
def test_a_retry_after_a_crash_mid_copy_ends_the_same(trials, crash):
    run_root, source, target = trials
    twin = target.with_name("trial3")
    shutil.copytree(target, twin)
    copy(request(run_root, source, twin))  # the copy that never crashed
    expected = listing(twin)

    copied = target / step_checkpoint_name(20)
    staged = copied.with_name(copied.name + TMP_SUFFIX)
    data = (source / step_checkpoint_name(20)).read_bytes()
    if crash == "while copying":  # half the bytes in the temp file; the target's own checkpoints still there
        staged.write_bytes(data[: len(data) // 2])
        digest_path(target / step_checkpoint_name(40)).write_text("0" * 64 + "  step00000040.ckpt\n")
    else:  # the copy staged, the target's own checkpoints removed, the digest in place, the checkpoint not
        staged.write_bytes(data)
        for step in (20, 30):
            (target / step_checkpoint_name(step)).unlink()
            digest_path(target / step_checkpoint_name(step)).unlink()
        shutil.copy(digest_path(source / step_checkpoint_name(20)), digest_path(copied))

    result = copy(request(run_root, source, target))
    assert listing(target) == expected and result.checkpoint == str(copied)
    again = copy(request(run_root, source, target))  # done once more: nothing changes
    assert listing(target) == expected and again == result


def test_with_shared_storage_the_source_is_fetched_and_the_copy_replaces_the_targets_remote_steps(trials, tmp_path):
    run_root, source, target = trials
    remote = tmp_path / "remote"
    storage = configure_storage(f"file://{remote}", str(run_root))
    try:
        for folder in (source, target):
            for path in sorted(folder.glob("*.ckpt")):
                storage.push_checkpoint(path)
        (source / step_checkpoint_name(20)).unlink()  # this machine lacks the source: it is fetched
        remote_target = remote / CHECKPOINTS / "sweep" / "trial2"

        result = copy(request(run_root, source, target))
        assert (source / step_checkpoint_name(20)).is_file()
        remote_copy = remote_target / step_checkpoint_name(20)
        assert remote_copy.read_bytes() == Path(result.checkpoint).read_bytes()
        assert digest_path(remote_copy).read_text() == digest_path(Path(result.checkpoint)).read_text()
        assert not (remote_target / step_checkpoint_name(30)).exists()  # a later fetch cannot bring it back
        assert (remote_target / step_checkpoint_name(10)).is_file() and (remote_target / "best.ckpt").is_file()
    finally:
        configure_storage("", "")
