"""The names of a training's checkpoint files and their digests, and which checkpoint a fit resumes from.

The writer owns its file names (as Lightning's `ModelCheckpoint` does): a checkpoint folder holds
`step<N>.ckpt` every few steps (`<N>` the global step, zero-padded), `best.ckpt`, a `<name>.sha256`
beside each with its digest, and `last_step` with the latest finished step. A checkpoint counts only
while its bytes match its recorded sha256, so a torn or altered one is never resumed from. Standard
library only: the runner, the workflow sandbox and shared storage import it without torch.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

CHECKPOINT_SUFFIX = ".ckpt"
DIGEST_SUFFIX = ".sha256"
"""`<checkpoint name><DIGEST_SUFFIX>` holds `<sha256>  <checkpoint name>`."""
TMP_SUFFIX = ".tmp"
"""A checkpoint being written, before it is renamed into place (never resumed from)."""

STEP_FILENAME = "step{step:08d}"
"""`ModelCheckpoint`'s template for the periodic checkpoints (formatted with the global step)."""
BEST_FILENAME = "best"
"""`ModelCheckpoint`'s name for the checkpoint with the best monitored metric."""
STEP_CHECKPOINT = re.compile(r"^step(\d+)\.ckpt$")

STEP_FILE = "last_step"
"""`<global step> <attempt>` of the latest finished training step in a checkpoint folder."""




class CorruptCheckpoint(ValueError):
    """A checkpoint whose bytes do not match its recorded sha256 (or that has none)."""


def step_checkpoint_name(step: int) -> str:
    """The file name of the step checkpoint at global step `step`."""
    return STEP_FILENAME.format(step=step) + CHECKPOINT_SUFFIX


def step_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """The step checkpoints in `folder`, newest (highest global step) first."""
    found = []
    if folder.is_dir():
        for path in folder.iterdir():
            match = STEP_CHECKPOINT.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)


def step_of_checkpoint(path: Path) -> int:
    """The global step of a step checkpoint, or -1 for any other file."""
    match = STEP_CHECKPOINT.match(path.name)
    return int(match.group(1)) if match else -1


def digest_path(path: Path) -> Path:
    """Where the sha256 of `path` is recorded."""
    return path.with_name(path.name + DIGEST_SUFFIX)


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes, read 1 MiB at a time."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def checkpoint_problem(path: Path) -> str:
    """Why `path` must not be loaded ('' when its bytes match the recorded sha256)."""
    if not path.is_file():
        return "missing"
    recorded = digest_path(path)
    if not recorded.is_file():
        return f"no checksum file {recorded.name}"
    expected = recorded.read_text().split()[0] if recorded.read_text().strip() else ""
    actual = file_sha256(path)
    return "" if actual == expected else f"sha256 {actual[:12]} does not match the recorded {expected[:12] or '(empty)'}"


def verify_checkpoint(path: Path) -> None:
    """Raise CorruptCheckpoint unless `path` matches its recorded sha256."""
    problem = checkpoint_problem(path)
    if problem:
        raise CorruptCheckpoint(f"checkpoint {path} is unusable: {problem}")


def resume_checkpoint(checkpoint_dir: Path) -> tuple[Path | None, list[str]]:
    """The newest step checkpoint whose bytes match its recorded sha256, and the newer ones passed over
    (torn, truncated or altered), each with its reason."""
    skipped: list[str] = []
    for _, path in step_checkpoints(checkpoint_dir):
        problem = checkpoint_problem(path)
        if not problem:
            return path, skipped
        skipped.append(f"{path.name}: {problem}")
    return None, skipped
