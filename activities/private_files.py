"""Files the project writes are owner-only: `private_umask` (the CLI sets it once at start, before it
imports anything else of the project's) and `make_private_dir` for the run root."""

from __future__ import annotations

import os
from pathlib import Path

from workflows.payloads.errors import ConfigError

PRIVATE_BITS = 0o077
"""Permission bits the project never grants: nothing for the group, nothing for others."""


def private_umask(umask: int) -> int:
    """The umask for files the project creates: `umask` with group and other bits masked too (a stricter
    umask of the user's stays as it is)."""
    return umask | PRIVATE_BITS


def use_private_umask() -> int:
    """Set this process's umask to `private_umask` of the current one (and so that of the servers it
    starts); returns the previous umask."""
    previous = os.umask(PRIVATE_BITS)
    os.umask(private_umask(previous))
    return previous


def make_private_dir(path: str | Path) -> Path:
    """Create `path` (and missing parents) owner-only; an existing folder keeps the mode its owner gave it."""
    folder = Path(path).expanduser()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # parents: as the umask says (private under the CLI's)
    except OSError as error:
        raise ConfigError(f"run_root folder '{folder}' cannot be created: {error.strerror}") from error
    return folder
