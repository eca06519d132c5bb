"""copy_checkpoint: population-based training's exploit, the hand-off of one trial's weights to another.

The source trial's step checkpoint at `step` (weights, optimiser and LR-schedule state, global step) is
copied into the target trial's folder under the same name, so the target's next `train` segment resumes
from it (`resume_checkpoint`: the newest step checkpoint that verifies). The target's own step checkpoints
at steps >= `step` hold the weights being replaced: they go first, so none of them is resumed from instead.

The copy cannot be torn and is never trusted unchecked: the source must match its recorded sha256, the
bytes are written to a temporary name in the target folder, fsynced and checked against that digest, then
the digest and the checkpoint are renamed into place, and the copy is verified where it lies. Every step
can be repeated, so a retry after a crash at any point ends with the same folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.engine.checkpoint_files import (
    DIGEST_SUFFIX,
    TMP_SUFFIX,
    checkpoint_problem,
    digest_path,
    file_sha256,
    step_checkpoint_name,
    step_checkpoints,
    step_of_checkpoint,
)
from activities.errors import final_failure
from activities.paths import confined
from activities.shared_storage import storage
from workflows.layout import CHECKPOINTS
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import CopyCheckpointRequest, CopyCheckpointResult
from workflows.payloads.names import SOURCE_UNUSABLE

HEARTBEAT_BYTES = 64 << 20
"""Bytes copied between two heartbeats (well under a second on any disk)."""


class SourceUnusable(ValueError):
    """The source's step checkpoint is missing or does not match its recorded sha256."""


@activity.defn
def copy_checkpoint(request: CopyCheckpointRequest) -> CopyCheckpointResult:
    """Copy `request.source_dir`'s step checkpoint at `request.step` into `request.target_dir` (verified
    before and after); idempotent. A folder outside `{run_root}/checkpoints` fails at once (ConfigError),
    as do an unusable source (`SOURCE_UNUSABLE`) and storage that cannot be written; anything else (an I/O
    hiccup) is retried."""
    activity.heartbeat()  # a retry after a lost worker starts at the heartbeat timeout
    try:
        result = copy_step_checkpoint(request)
    except SourceUnusable as error:
        raise ApplicationError(str(error), type=SOURCE_UNUSABLE, non_retryable=True) from error
    except Exception as error:
        final = final_failure(error)  # bad input, or storage that cannot be written
        if final is None:
            raise  # Temporal retries it
        raise final from error
    activity.logger.info("copied the step %d checkpoint of %s into %s (sha256 %s)", result.step,
                         request.source_dir, request.target_dir, result.sha256[:12])
    return result


def copy_step_checkpoint(request: CopyCheckpointRequest) -> CopyCheckpointResult:
    """The work of `copy_checkpoint`, with plain exceptions: ConfigError, SourceUnusable, OSError."""
    source_dir, target_dir = _folders(request)
    name = step_checkpoint_name(request.step)
    source, target = source_dir / name, target_dir / name

    storage().fetch_checkpoint(source)  # from shared storage (storage.uri), when this machine lacks it
    problem = checkpoint_problem(source)
    if problem:
        raise SourceUnusable(f"source checkpoint '{source}' is unusable: {problem}; it cannot be copied into "
                             f"'{target_dir}'")
    expected = digest_path(source).read_text().split()[0]

    target_dir.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + TMP_SUFFIX)
    _copy_synced(source, staged)
    copied = file_sha256(staged)
    if copied != expected:  # the bytes changed on the way (a failing disk, a concurrent writer): retry
        staged.unlink(missing_ok=True)
        raise OSError(f"the copy of '{source}' has sha256 {copied[:12]}, not the source's {expected[:12]}")

    remove_step_checkpoints(target_dir, request.step)
    storage().remove_step_checkpoints(target_dir, request.step)
    digest = digest_path(target)
    staged_digest = digest.with_name(digest.name + TMP_SUFFIX)
    _copy_synced(digest_path(source), staged_digest)  # `<sha256>  <name>`: the same name at the same step
    os.replace(staged_digest, digest)
    os.replace(staged, target)
    _sync_folder(target_dir)

    # its bytes were hashed before the rename (which moves no byte): it verifies when its digest says so
    recorded = digest.read_text().split()
    if not recorded or recorded[0] != expected:
        raise OSError(f"the digest of the copy '{target}' does not record the source's sha256 {expected[:12]}")
    storage().push_checkpoint(target)  # shared storage (storage.uri), when set
    return CopyCheckpointResult(checkpoint=str(target), sha256=expected, step=request.step)


def _folders(request: CopyCheckpointRequest) -> tuple[Path, Path]:
    """Source and target folder, resolved, each inside `{run_root}/checkpoints`, distinct, and a step >= 1."""
    root = Path(request.run_root) / CHECKPOINTS
    source = confined(request.source_dir, root, "CopyCheckpointRequest.source_dir")
    target = confined(request.target_dir, root, "CopyCheckpointRequest.target_dir")
    if source == target:
        raise ConfigError(f"CopyCheckpointRequest.target_dir is '{request.target_dir}', the source folder itself; "
                          f"it must be another trial's folder")
    if request.step < 1:
        raise ConfigError(f"CopyCheckpointRequest.step is {request.step}, but must be >= 1 (a global step with a "
                          f"step checkpoint)")
    return source, target


def remove_step_checkpoints(folder: Path, from_step: int) -> int:
    """Delete `folder`'s step checkpoints at global steps >= `from_step` and their digests, digests first
    (a checkpoint without its digest is never resumed from); nothing else (`best.ckpt`, logs) is touched.
    Returns how many checkpoints went."""
    doomed = [path for step, path in step_checkpoints(folder) if step >= from_step]
    for digest in sorted(folder.glob(f"*{DIGEST_SUFFIX}")):
        if step_of_checkpoint(digest.with_name(digest.name[: -len(DIGEST_SUFFIX)])) >= from_step:
            digest.unlink(missing_ok=True)  # also one whose checkpoint is already gone
    for path in doomed:
        path.unlink(missing_ok=True)
    return len(doomed)


def _copy_synced(source: Path, destination: Path) -> None:
    """Copy `source`'s bytes to `destination` (created or truncated) and fsync it, heartbeating every
    `HEARTBEAT_BYTES` (a worker that dies mid-copy is noticed at the heartbeat timeout, not the copy's)."""
    with source.open("rb") as reading, destination.open("wb") as writing:
        while block := reading.read(HEARTBEAT_BYTES):
            writing.write(block)
            if activity.in_activity():
                activity.heartbeat()
        writing.flush()
        os.fsync(writing.fileno())


def _sync_folder(folder: Path) -> None:
    """fsync a folder, so the renames into it survive a power loss."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
