"""Confinement: every folder the activities write or delete lies inside the run root."""

from __future__ import annotations

import re
from pathlib import Path

from workflows.payloads.errors import ConfigError

SHIPPED_DATA = Path(__file__).resolve().parents[1] / "data"
"""The labelled datasets that come with train-tune's source (`data/NAME`, read as `${repo_data:NAME}`): like
a packaged dataset, every worker may read them."""
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
"""Names that become parts of workflow ids and paths (experiment_name): no separators, no '..' escape."""


def confined(path: str | Path, root: str | Path, what: str) -> Path:
    """`path` resolved, if it lies strictly inside `root` (after resolving '..' and symlinks); else a
    ConfigError naming both."""
    resolved, base = Path(path).resolve(), Path(root).resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise ConfigError(f"{what} '{path}' escapes '{base}'; it must lie inside the run root")
    return resolved


def check_name(key: str, value: str) -> None:
    if not NAME.match(value) or ".." in value:
        raise ConfigError(f"{key} is '{value}', but must be 1-100 letters, digits, '_', '-' or '.', starting "
                          f"with a letter or digit (it names workflows and folders)")
