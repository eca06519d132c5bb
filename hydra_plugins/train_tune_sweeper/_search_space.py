"""Hydra's sweep grammar as a sweep's search space: what hydra-optuna-sweeper's
`create_optuna_distribution_from_override` computes, as `ParamSpec` entries instead of Optuna distributions.

    interval(a, b)                      float in [a, b]
    tag(log, interval(a, b))            float in [a, b] on a log scale
    tag(int, interval(a, b))            int in [a, b] (also int(interval(a, b))); with log: int, log scale
    range(a, b[, s])                    int (float when any bound is) from a by s, b excluded as in Python's
                                        range, so the ParamSpec's high is the range's last value
    choice(x, y, ...), x,y,...          categorical; shuffle(...) of a range or list too
    key=value                           no parameter: the job's config sets it as usual

The overrides of `hydra.sweeper.params` come first and the command line's after them, the later one of a key
winning (as in Hydra's BasicSweeper and Optuna's sweeper). A plain comma list makes no search by itself:
without an interval, range, choice(...) or tag anywhere the sweeper fans out as Hydra's BasicSweeper does.
With one, every comma list becomes a categorical parameter of the same search (Optuna's sweeper does the
same). Every refusal is a ConfigError naming the override, its value and what is valid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    OverrideType,
    Quote,
    QuotedString,
    RangeSweep,
)
from hydra.errors import HydraException

from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import ParamSpec
from workflows.search_params import SEARCHABLE_SECTIONS

SEARCH_TAGS = ("log", "int")
"""The tags a search reads: `log` scale and `int` values (Optuna's sweeper reads `log` only)."""
PRIMITIVES = (str, int, float, bool, type(None))
"""What a categorical choice may be (Optuna's CategoricalDistribution)."""


@dataclass
class SweepPlan:
    """What a multirun's overrides ask for.

    Attributes:
        params: The searched parameters, in the order of their overrides.
        fixed: Every other override as written, for composing the sweep's one job.
    """

    params: list[ParamSpec] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)


def sweeper_lines(params: Mapping[str, Any] | None, arguments: Sequence[str]) -> list[str]:
    """`hydra.sweeper.params` as `key=value` lines, then the command line's (later lines win)."""
    return [*(f"{key}={value}" for key, value in (params or {}).items()), *arguments]


def parse(lines: Sequence[str]) -> list[Override]:
    """Hydra's own parse of each line; a line it cannot parse fails naming that line."""
    parser = OverridesParser.create()
    parsed = []
    for line in lines:
        try:
            parsed.append(parser.parse_override(line))
        except HydraException as error:
            raise ConfigError(f"'{line}' is not a valid override: {str(error).splitlines()[0]}") from None
    return parsed


def is_search(override: Override) -> bool:
    """interval, range, choice(...), shuffle(...) or a tagged sweep: a search in Optuna's grammar. A plain
    comma list (`a=1,2`) alone is Hydra's fan-out."""
    if not override.is_sweep_override():
        return False
    value = override.value()
    return not (isinstance(value, ChoiceSweep) and value.simple_form and not value.shuffle and not value.tags)


def starts_search(override: Override) -> bool:
    """An override on the command line that makes a multirun a search: an interval or a tagged sweep.
    There `range(...)` and `choice(...)` alone keep fanning out as Hydra's BasicSweeper does
    (`-m seed=range(0,3)`); once a search starts they, and comma lists, become its parameters."""
    if not override.is_sweep_override():
        return False
    value = override.value()
    return isinstance(value, IntervalSweep) or bool(getattr(value, "tags", None))


def searches(params: Mapping[str, str] | None, arguments: Sequence[str]) -> bool:
    """Whether a multirun is one search: `hydra.sweeper.params` holds a search override (Optuna's sweeper
    grammar: interval, range, choice, tag), or the command line starts one (`starts_search`)."""
    return any(is_search(o) for o in parse(sweeper_lines(params, []))) or any(
        starts_search(o) for o in parse(arguments))


def last_overrides(lines: Sequence[str]) -> list[Override]:
    """The parsed overrides, one per key: a later line replaces an earlier one of its key (in the later
    line's place), as a later override wins when Hydra composes."""
    last: dict[str, Override] = {}
    for override in parse(lines):
        last.pop(override.get_key_element(), None)
        last[override.get_key_element()] = override
    return list(last.values())


def plan(overrides: Sequence[Override], is_group: Callable[[str], bool], current: Callable[[str], Any]) -> SweepPlan:
    """Split the overrides of a search into searched parameters and the rest; every sweep override, a
    plain comma list too, becomes a parameter.

    Args:
        overrides: `last_overrides(...)` of hydra.sweeper.params, then the command line.
        is_group: Whether a key names a config group (`model`), which a trial cannot change.
        current: The key's value in the config composed without the search (None when absent): an
            interval or range on a string or bool key is refused here, naming the override.
    """
    result = SweepPlan()
    for override in overrides:
        if override.is_sweep_override():
            result.params.append(param_of(override, is_group, current))
        else:
            assert override.input_line is not None
            result.fixed.append(override.input_line)
    return result


def param_of(override: Override, is_group: Callable[[str], bool], current: Callable[[str], Any]) -> ParamSpec:
    """The ParamSpec one sweep override asks for."""
    key, written = override.get_key_element(), override.input_line
    if override.type != OverrideType.CHANGE or override.package:
        raise ConfigError(f"{written}: a searched key is set as `key=...` (no +, ++, ~ or @package); "
                          f"add the key to the config or search a key it has")
    if is_group(key):
        raise ConfigError(f"{written}: '{key}' is a config group, but a sweep's trials differ in config keys, not "
                          f"group options; search keys such as {key}.* or run one sweep per option")
    if key.partition(".")[0] not in SEARCHABLE_SECTIONS:
        sections = ", ".join(f"{s}.*" for s in SEARCHABLE_SECTIONS)
        raise ConfigError(f"{written}: a search sets {sections} keys, but '{key}' is none of them (a multirun without "
                          f"interval, range, choice or tag fans its comma lists out instead)")
    value = override.value()
    unknown = sorted(set(getattr(value, "tags", set())) - set(SEARCH_TAGS))
    if unknown:
        raise ConfigError(f"{written}: tag {', '.join(unknown)} is not one a search reads; use {' or '.join(SEARCH_TAGS)}")
    if isinstance(value, IntervalSweep):
        return numeric(key, written, value.start, value.end, value.tags, None, current(key))
    if isinstance(value, RangeSweep) and not value.shuffle:
        values = [v for v in override.sweep_iterator() if isinstance(v, (int, float))]  # a range's are numbers
        if len(values) < 2:
            raise ConfigError(f"{written}: the range holds {values}, but a searched range needs two values or more")
        if "log" in value.tags:
            raise ConfigError(f"{written}: tag log applies to interval(...), not to range(...) (its values are evenly "
                              f"spaced); use tag(log, interval(low, high))")
        step = abs(value.step if value.step is not None else 1)
        return numeric(key, written, min(values), max(values), value.tags, step, current(key))
    assert isinstance(value, (ChoiceSweep, RangeSweep))
    if set(value.tags) & set(SEARCH_TAGS):
        raise ConfigError(f"{written}: tags {' and '.join(SEARCH_TAGS)} apply to interval(...) and range(...), not to "
                          f"a list of choices")
    choices = [c.text if isinstance(c, QuotedString) else c for c in override.sweep_iterator()]
    if isinstance(value, RangeSweep):
        choices.sort()  # shuffle(range(...)): the order of a categorical's choices means nothing
    odd = [c for c in choices if not isinstance(c, PRIMITIVES)]
    if odd:
        raise ConfigError(f"{written}: choice {odd[0]!r} is a {type(odd[0]).__name__}, but a searched choice must be a "
                          f"number, string, bool or null")
    return ParamSpec(key=key, type="categorical", choices=choices)


def numeric(key: str, written: str | None, low: Any, high: Any, tags: set[str], step: Any, now: Any) -> ParamSpec:
    """A float or int ParamSpec from an interval's or a range's bounds, checked against the key's value."""
    whole = "int" in tags or (all(isinstance(v, int) for v in (low, high)) and (step is None or isinstance(step, int)))
    if now is not None and (isinstance(now, bool) or not isinstance(now, (int, float))):
        raise ConfigError(f"{written}: {key} is {now!r}, but interval(...) and range(...) search numbers; use "
                          f"choice(...) for other values")
    if isinstance(now, int) and not whole:
        raise ConfigError(f"{written}: {key} is an int ({now}), but this samples floats; write "
                          f"tag(int, interval({low:g}, {high:g})) or int(...) for whole numbers")
    if not all(math.isfinite(v) for v in (low, high)):
        raise ConfigError(f"{written}: bounds {low}, {high} must be finite numbers")
    if not low < high:
        raise ConfigError(f"{written}: low is {low:g} and high is {high:g}, but a search needs low < high")
    if "log" in tags and low <= 0:
        raise ConfigError(f"{written}: tag log needs low > 0, but low is {low:g}")
    if whole:
        if low != int(low) or high != int(high) or (step is not None and step != int(step)):
            raise ConfigError(f"{written}: tag int needs whole bounds, but they are {low:g} and {high:g}")
        int_step = None if step in (None, 1) else float(int(step))
        return ParamSpec(key=key, type="int", low=float(int(low)), high=float(int(high)), log="log" in tags,
                         step=int_step)
    return ParamSpec(key=key, type="float", low=float(low), high=float(high), log="log" in tags,
                     step=None if step is None else float(step))


def merged_params(yaml: Sequence[Mapping[str, Any]], searched: Sequence[ParamSpec]) -> list[dict[str, Any]]:
    """The config's `search_space.params` with the searched ones on top: a key both name takes the command
    line's (or hydra.sweeper.params') definition in the YAML's place; new keys follow in their order."""
    ours = {p.key: asdict(p) for p in searched}
    out = [ours.pop(str(p["key"]), dict(p)) for p in yaml]
    return [*out, *ours.values()]


def encoded(value: Any) -> str:
    """A value in Hydra's override grammar, read back as the same type (strings quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return QuotedString(text=value, quote=Quote.single).with_quotes()
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{encoded(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encoded(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as an override")


def space_override(params: Sequence[Mapping[str, Any]]) -> str:
    """The override that sets the sweep's search space (each entry without the fields at their default)."""
    defaults = asdict(ParamSpec(key=""))
    compact = [{k: v for k, v in p.items() if k in ("key", "type") or v != defaults.get(k)} for p in params]
    return f"search_space.params={encoded(compact)}"
