"""A snapshot folder's integrity and its builders' lock.

- Digests: `digests.json` records the sha256 of every file of a snapshot before `snapshot.json` marks it
  complete; a snapshot is reused (or taken from shared storage) only while every file still matches, so
  a flipped byte or edited labels in an Arrow file make it be rebuilt, never silently used.
- Lock: one builder per snapshot id at a time (`fcntl.flock` on `.{id}.lock` beside the folders; the
  kernel drops it when its process dies). While holding it, a builder removes temp folders left by builds
  whose process died (`.{id}.{hex}`), since nothing else can be writing them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

META_FILE = "snapshot.json"
"""Written last: a snapshot folder is complete when it holds this (its `DatasetSnapshot` as JSON)."""
DIGESTS_FILE = "digests.json"
WAIT_S = 0.5
"""How often a builder waiting for another's lock looks again (and heartbeats)."""


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _files(folder: Path, meta_file: str) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.name not in (meta_file, DIGESTS_FILE))


def write_digests(folder: Path, meta_file: str) -> None:
    """Record the sha256 of every file in `folder` (but the metadata and the digests themselves)."""
    digests = {name: _sha256(folder / name) for name in _files(folder, meta_file)}
    (folder / DIGESTS_FILE).write_text(json.dumps(digests, indent=1, sort_keys=True))


def damage(folder: Path, meta_file: str) -> str:
    """Why the snapshot in `folder` must not be used ('' when every file matches its digest)."""
    try:
        recorded = json.loads((folder / DIGESTS_FILE).read_text())
    except (OSError, ValueError):
        return f"{DIGESTS_FILE} is missing or unreadable"
    present = _files(folder, meta_file)
    for name in sorted(set(recorded) | set(present)):
        if name not in present:
            return f"{name} is missing"
        if name not in recorded:
            return f"{name} was not part of the snapshot"
        if _sha256(folder / name) != recorded[name]:
            return f"{name} does not match its recorded sha256"
    return ""


def discard(folder: Path) -> None:
    """Move a damaged snapshot out of the way (atomically), then delete it."""
    aside = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}.damaged")
    folder.rename(aside)
    shutil.rmtree(aside, ignore_errors=True)


@contextmanager
def build_lock(snapshots: Path, sid: str, waiting: Callable[[], object] = lambda: None) -> Iterator[None]:
    """Hold the builders' lock of snapshot `sid`; `waiting` is called while another process holds it."""
    snapshots.mkdir(parents=True, exist_ok=True)
    with (snapshots / f".{sid}.lock").open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waiting()
                time.sleep(WAIT_S)
        try:
            remove_stale_temps(snapshots, sid)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_temps(snapshots: Path, sid: str) -> list[Path]:
    """Delete temp folders of snapshot `sid` (the caller holds its lock, so no live build owns them)."""
    removed = [tmp for tmp in snapshots.glob(f".{sid}.*") if tmp.is_dir()]
    for tmp in removed:
        shutil.rmtree(tmp, ignore_errors=True)
    return removed
