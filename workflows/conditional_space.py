"""Conditional search spaces: which parameters a trial sets, given the values it has already chosen.

A parameter with `when: {key: value, ...}` is active in a trial only when every named key (another searched
parameter, categorical; `model` among them) took that value; a key may be listed more than once when its
`when`s exclude each other (`optim.lr` for `model: bert_tiny` and for `model: minilm_l6`, each with its own
range). An inactive parameter is left out of the trial's parameters, so the run keeps the base config's
value. Parameters are chosen in `ordered` order (every parameter after the ones its `when` names), so a
sampler decides each one knowing what its `when` depends on (Optuna's define-by-run; `activities.suggest`).

Pure (no Optuna, no I/O): the workflow, the activities and the runner share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import ParamSpec
from workflows.search_params import MODEL_KEY

__all__ = ["MODEL_KEY", "active_params", "check_conditions", "context", "is_active", "is_conditional", "ordered",
           "param_name"]


def is_conditional(space: list[ParamSpec]) -> bool:
    """Some parameter is active in only some trials."""
    return any(p.when for p in space)


def param_name(p: ParamSpec) -> str:
    """The sampler's name of the parameter: its key, with its `when` for a conditional one
    (`optim.lr|model=minilm_l6`), so each distinct range is a distribution of its own."""
    if not p.when:
        return p.key
    return p.key + "|" + ",".join(f"{k}={v}" for k, v in sorted(p.when.items()))


def is_active(p: ParamSpec, chosen: Mapping[str, Any]) -> bool:
    """Every key of `p.when` was chosen with its value."""
    return all(key in chosen and chosen[key] == value for key, value in p.when.items())


def ordered(space: list[ParamSpec]) -> list[ParamSpec]:
    """The space in the order a trial chooses its parameters: as listed, except that a parameter comes after
    every parameter its `when` names (`check_conditions` has refused cycles). Unconditional: as listed."""
    if not is_conditional(space):
        return list(space)
    left, out, placed = list(space), [], set()
    while left:
        ready = next(p for p in left if all(key in placed for key in p.when))
        left.remove(ready)
        out.append(ready)
        if not any(q.key == ready.key for q in left):
            placed.add(ready.key)
    return out


def active_params(space: list[ParamSpec], params: Mapping[str, Any]) -> list[tuple[ParamSpec, Any]]:
    """(spec, value) of each parameter in `params` (config keys) that is active given the others: the spec
    whose `when` holds decides the range it was drawn from. Keys outside the space are left out."""
    chosen: dict[str, Any] = {}
    out = []
    for p in ordered(space):
        if p.key in params and p.key not in chosen and is_active(p, chosen):
            chosen[p.key] = params[p.key]
            out.append((p, params[p.key]))
    return out


def check_conditions(space: list[ParamSpec]) -> None:
    """`when` names other searched categorical parameters and values among their choices; a key listed more
    than once has `when`s that exclude each other; no cycles. ConfigError (one line) otherwise."""
    by_key: dict[str, list[ParamSpec]] = {}
    for p in space:
        by_key.setdefault(p.key, []).append(p)
    for p in space:
        where = f"search_space.params.{p.key}.when"
        for key, value in p.when.items():
            targets = by_key.get(key)
            if key == p.key or not targets:
                others = sorted(k for k in by_key if k != p.key)
                raise ConfigError(f"{where} names '{key}', but must name another searched parameter: "
                                  f"{', '.join(others) or 'none'}")
            if any(t.type != "categorical" for t in targets):
                raise ConfigError(f"{where}.{key} is {value!r}, but '{key}' is a {targets[0].type} parameter; "
                                  f"`when` may only name categorical parameters")
            choices = [c for t in targets for c in t.choices]
            if value not in choices:
                raise ConfigError(f"{where}.{key} is {value!r}, but must be one of the choices of '{key}': "
                                  f"{', '.join(map(repr, dict.fromkeys(choices)))}")
    for key, specs in by_key.items():
        for i, a in enumerate(specs):
            for b in specs[i + 1:]:
                if not any(k in b.when and b.when[k] != v for k, v in a.when.items()):
                    raise ConfigError(
                        f"search_space.params.{key} appears twice with when={a.when or {}} and when={b.when or {}}, "
                        f"which can both hold; a key listed twice needs `when`s that exclude each other "
                        f"(a key with different values)")
    _refuse_cycles(by_key)


def _refuse_cycles(by_key: dict[str, list[ParamSpec]]) -> None:
    needs = {key: {k for p in specs for k in p.when} for key, specs in by_key.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(key: str, path: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            cycle = " -> ".join([*path[path.index(key):], key])
            raise ConfigError(f"search_space.params has a `when` cycle ({cycle}), but each parameter may only "
                              f"depend on parameters chosen before it")
        state[key] = 1
        for other in sorted(needs[key]):
            visit(other, [*path, key])
        state[key] = 2

    for key in by_key:
        visit(key, [])


def context(p: ParamSpec, space: list[ParamSpec]) -> dict[str, Any]:
    """The values `p` needs to be active, its `when` and, through them, theirs (a spec of each named key
    that offers the value): the parameters a check of `p`'s values applies with them."""
    out = dict(p.when)
    todo = list(p.when.items())
    while todo:
        key, value = todo.pop()
        spec = next((q for q in space if q.key == key and value in q.choices), None)
        for k, v in (spec.when if spec else {}).items():
            if k not in out:
                out[k] = v
                todo.append((k, v))
    return out
