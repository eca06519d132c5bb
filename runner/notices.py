"""Warnings the resolver has for the user: printed once each, on stderr, before anything starts."""

from __future__ import annotations

import sys

_shown: set[str] = set()


def warn(message: str) -> None:
    """Print `message` as one 'warning:' line, unless this process printed it already (a multirun
    resolves the same dataset once per job)."""
    if message in _shown:
        return
    _shown.add(message)
    print(f"warning: {message}", file=sys.stderr, flush=True)
