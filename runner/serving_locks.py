"""Serving locks: a process whose local workers poll a task queue of the embedded server holds that
queue's lock (a shared flock beside the server's SQLite file; the kernel releases it when the process ends,
even by SIGKILL), so that watchers (`runner.standby`) leave the queue to it."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def lock_path(db_file: Path | str, queue: str) -> Path:
    """The serving lock of `queue` beside the server's SQLite file (queue names are free text: hashed)."""
    digest = hashlib.sha256(queue.encode()).hexdigest()[:16]
    return Path(f"{db_file}.serving-{digest}.lock")


@contextmanager
def serving_locks(db_file: Path | str | None, queues: list[str]) -> Iterator[None]:
    """Hold a shared flock on each queue's serving lock while the context is open (none without a file)."""
    descriptors: list[int] = []
    try:
        for queue in queues if db_file else []:
            descriptor = os.open(lock_path(db_file, queue), os.O_RDWR | os.O_CREAT, 0o600)  # type: ignore[arg-type]
            descriptors.append(descriptor)
            fcntl.flock(descriptor, fcntl.LOCK_SH)  # waits only while a checker holds it exclusively (an instant)
        yield
    finally:
        for descriptor in descriptors:
            os.close(descriptor)


def locked_by_another(db_file: Path | str, queue: str) -> bool:
    """Whether some process holds `queue`'s serving lock (this one must not hold it)."""
    path = lock_path(db_file, queue)
    if not path.exists():
        return False
    descriptor = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # releases the exclusive lock if it was taken
    return False
