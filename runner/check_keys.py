"""Every key of a composed config is one the schema knows, and none it needs was removed.

Hydra lets a user add a key (`+trainer.foo=1`, `+new_key=1`) or delete one (`~predict_texts`) whatever the
schema says: without this check an added key failed deep in the resolver (a `TypeError` from a spec's
constructor) or was silently ignored, and a deleted one ended in a `KeyError`. Here each becomes one line
naming the key, what the command line did and what would be valid, before anything starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from typing import Any

from runner.config_schema import TrainTuneConfig
from workflows.payloads.errors import ConfigError


def check_known_keys(plain: dict[str, Any], schema: type = TrainTuneConfig, where: str = "") -> None:
    """Raise ConfigError on the first key of `plain` (a composed config, as plain data) that `schema` (a
    config dataclass) does not have, or the first field of `schema` that `plain` lacks. Free-form fields
    (dicts, lists, `Any`) are not looked into."""
    hints = typing.get_type_hints(schema)
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for key in plain:
        if key not in fields:
            raise ConfigError(_unknown(f"{where}{key}", str(key), sorted(fields), where))
    for name, field in fields.items():
        path = f"{where}{name}"
        if name not in plain:
            raise ConfigError(_removed(path, field))
        if dataclasses.is_dataclass(hints[name]) and isinstance(plain[name], dict):
            check_known_keys(plain[name], typing.cast(type, hints[name]), f"{path}.")


def _unknown(path: str, key: str, known: list[str], where: str) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {where}{close[0]}? " if close else ""
    section = f"{where.rstrip('.')} takes" if where else "the top level takes"
    return (f"{path} is not a train-tune key (added with `+{path}=...`?); {hint}{section}: "
            f"{', '.join(known)}")


def _removed(path: str, field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        instead = f"set it (its default: `{path}={_shown(field.default)}`)"
    elif field.default_factory is not dataclasses.MISSING:
        instead = f"set it (its default: `{path}={_shown(field.default_factory())}`)"
    else:
        instead = "choose one of its group's options instead"
    return f"{path} was removed (`~{path}`), but every run needs it; {instead}"


def _shown(value: Any) -> str:
    if dataclasses.is_dataclass(value):
        return "{...}"
    if isinstance(value, str):
        return value or "''"
    return str(value).replace("'", "") if isinstance(value, list | dict) else str(value)
