"""How a sweep starts, checked at resolve time (before any server starts):

- `enqueue:` configs it evaluates first (the team's known-good defaults), checked against the search space:
  entry i becomes trial i, proposed through Optuna's own `study.enqueue_trial` (`activities.suggest`), so
  TPE learns from them as its first trials. An entry may leave keys out: the sampler draws those.
- `warm_start:` the earlier sweeps it learns from and reuses checkpoints of (read from the server once it
  runs: `runner.warm_start`)."""

from __future__ import annotations

from typing import Any

from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import ParamSpec
from workflows.payloads.warm_start import WarmStart
from workflows.space_values import as_space_value, value_problem


def resolve_enqueue(entries: Any, space: list[ParamSpec], n_trials: int) -> list[dict[str, Any]]:
    """The enqueued configs as the sampler gives values (a choice itself, ints, floats).

    Raises:
        ConfigError: one line naming the entry's index, the key, the value and what is valid.
    """
    if not isinstance(entries, list):
        raise ConfigError(f"enqueue is {entries!r}, but must be a list of configs, e.g. "
                          f"[{{optim.lr: 1.0e-3, optim.warmup_ratio: 0.06}}]")
    if len(entries) > n_trials:
        raise ConfigError(f"enqueue has {len(entries)} entries, but n_trials is {n_trials}; each entry is one of "
                          f"the first trials: raise n_trials or enqueue fewer")
    by_key = {p.key: p for p in space}
    resolved: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry:
            raise ConfigError(f"enqueue[{index}] is {entry!r}, but must map search-space keys to values, e.g. "
                              f"{{{space[0].key}: ...}}")
        values = {}
        for key, value in entry.items():
            spec = by_key.get(key)
            if spec is None:
                raise ConfigError(f"enqueue[{index}].{key} is {value!r}, but {key} is not searched; the search space's "
                                  f"keys are: {', '.join(by_key)}")
            problem = value_problem(spec, value)
            if problem:
                raise ConfigError(f"enqueue[{index}].{key} is {value!r}, but {problem} (search_space.params.{key})")
            values[key] = as_space_value(spec, value)
        if values in resolved:
            raise ConfigError(f"enqueue[{index}] is {entry!r}, the same config as enqueue[{resolved.index(values)}]")
        resolved.append(values)
    return resolved


KEYS = ("from", "reuse_checkpoints")


def warm_start_config(raw: Any) -> WarmStart | None:
    """`warm_start:` checked: None when `from` is empty, else the sweeps to read (no trials yet).

    Raises:
        ConfigError: one line naming the key, its value and what is valid.
    """
    raw = dict(raw or {})
    for key in raw:
        if key not in KEYS:
            raise ConfigError(f"warm_start.{key} is {raw[key]!r}, but warm_start takes: {', '.join(KEYS)}")
    ids, reuse = raw.get("from") or [], raw.get("reuse_checkpoints", True)
    if not isinstance(ids, list) or not all(isinstance(i, str) and i.strip() for i in ids):
        raise ConfigError(f"warm_start.from is {ids!r}, but must be a list of sweep ids (`train-tune status` lists "
                          f"them, e.g. bert_sweep-sha-0123456789ab)")
    if len(set(ids)) != len(ids):
        raise ConfigError(f"warm_start.from is {ids}, which names a sweep twice")
    if not isinstance(reuse, bool):
        raise ConfigError(f"warm_start.reuse_checkpoints is {reuse!r}, but must be true or false")
    return WarmStart(sweeps=list(ids), reuse_checkpoints=reuse) if ids else None


def refuse_outside_sweep(plain: dict[str, Any], what: str = "a single run") -> None:
    """`enqueue:` and `warm_start.from` steer a sweep's proposals: in a single run's config they would be ignored."""
    for key, value in (("enqueue", plain.get("enqueue")), ("warm_start.from", (plain.get("warm_start") or {}).get("from"))):
        if value:
            raise ConfigError(f"{key} is {value}, but this is {what}; {key} is for sweeps (a search_space.params "
                              f"or a ladder kind): remove it, or pick a search space, e.g. search_space=lr_warmup")
