"""A config Hydra cannot compose, as one line: a YAML syntax error as `file:line:col: message`, an unknown
group option with the options there are, a bad override with the key and what went wrong. Hydra itself
prints these as a stripped traceback (a YAML error in a user's config repo: ~90 lines, the file at the
bottom) and exits 1; train-tune says it in one line and exits 2, bad input, as the README's table says."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import yaml
from hydra.errors import HydraException, OverrideParseException


def run_composing(app: Callable[[], None], fail: Callable[[str, int], None], bad_input: int) -> None:
    """Run the Hydra app `app`; a config it cannot compose ends in `fail(one line, bad_input)`."""
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing its own traceback
    try:
        app()
    except (yaml.YAMLError, HydraException) as error:
        fail(compose_error_line(error), bad_input)


def compose_error_line(error: BaseException) -> str:
    """One line saying what Hydra could not compose and where."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        context = f" ({error.context} at line {error.context_mark.line + 1})" if (
            error.context and error.context_mark is not None) else ""
        return f"{mark.name}:{mark.line + 1}:{mark.column + 1}: {error.problem}{context}"
    text = str(error)
    if isinstance(error, OverrideParseException):
        return f"the override '{error.override}' does not parse: {text.splitlines()[0]} (Hydra's override grammar)"
    options = re.search(r"Available options in '([^']+)':\n((?:\t.*\n?)+)", text)
    if options:
        names = [n.strip() for n in options.group(2).splitlines() if n.strip() and not n.strip().startswith("base_")]
        return f"{text.splitlines()[0]}; {options.group(1)} options: {', '.join(names)}"
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith(("See https://", "Config search path", "provider="))]
    cause = error.__cause__
    if cause is not None:
        lines += [line.strip() for line in str(cause).splitlines()
                  if line.strip() and not line.strip().startswith(("reference_type=", "object_type="))]
    return "; ".join(lines) or type(error).__name__
