"""What a label column holds, and the class names a classifier is trained on.

`LabelTally` counts, row by row, what each split's label column holds; `class_names` turns the tallies into
the ordered class names and a map from each value as read to its class name, or refuses with the reason
and the place in the file. The same two steps run at resolve time and when the snapshot is made, so a run
never trains on labels that were read differently from the ones that were checked.

Rules:
- Values are compared as text: integers as digits, an integral float (1.0, as pandas writes an integer
  column with gaps) as the integer, strings with surrounding blanks removed.
- A missing label (empty cell, null, NaN) is an error naming the rows.
- Not classes: a column of non-integral numbers (a regression target), a list per row or values joined by
  ';' or '|' (several labels per row): refused, saying what the column looks like.
- `dataset.label_names` fixes the classes and their order. Values that are all among the names are taken
  by name; integer values index the names from 0 (0 -> first name), checked against their number.
- Without label_names the classes are the training split's values, integers in numeric order, others
  sorted. A validation or test label the training split lacks is an error naming it.
- A class with fewer than RARE_CLASS_ROWS training rows is named in a warning: a one-row class is more
  often a typo ("postive") than a class.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from workflows.payloads.errors import ConfigError

RARE_CLASS_ROWS = 5
"""Training rows below which a class is named in a warning."""
SEPARATORS = (";", "|")
"""Characters that join several labels in one csv cell."""
SHOWN = 5
"""Places named in a message before '...'."""


def label_text(value: Any) -> str | list[Any] | float:
    """A label value as compared: text, a list (several labels), a float (not a class), or '' (missing)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else value
    if isinstance(value, (list, tuple)):
        return list(value)
    if not isinstance(value, str) and hasattr(value, "tolist"):  # numpy arrays from parquet list columns
        return label_text(value.tolist())
    text = str(value).strip()
    if text.lower() in ("nan", "null", "none", "na", "n/a"):
        return ""
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number.is_integer() and "." in text and text.replace(".", "", 1).lstrip("-+").isdigit():
        return str(int(number))  # "1.0" -> "1"
    return number if not number.is_integer() else text


@dataclass
class LabelTally:
    """What one split's label column held: counts per value and the first places of the odd ones."""

    source: str
    """The file as named in messages, e.g. "train file 'x.csv'"."""
    counts: Counter[str] = field(default_factory=Counter)
    first_place: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    missing_count: int = 0
    floats: list[tuple[str, float]] = field(default_factory=list)
    lists: list[tuple[str, list[Any]]] = field(default_factory=list)

    def add(self, place: str, value: Any) -> str:
        """Count `value` read at `place`; returns its text ('' when it is not a usable class value)."""
        text = label_text(value)
        if isinstance(text, list):
            if len(self.lists) < SHOWN:
                self.lists.append((place, text))
            return ""
        if isinstance(text, float):
            if len(self.floats) < SHOWN:
                self.floats.append((place, text))
            return ""
        if not text:
            self.missing_count += 1
            if len(self.missing) < SHOWN:
                self.missing.append(place)
            return ""
        self.counts[text] += 1
        self.first_place.setdefault(text, place)
        return text


def _places(places: list[str], total: int) -> str:
    return ", ".join(places) + (f" and {total - len(places)} more" if total > len(places) else "")


def _joined(tally: LabelTally) -> list[str]:
    """Values that look like several labels joined by a separator."""
    values = list(tally.counts)
    singles = set(values)
    joined = [v for v in values if any(s in v and all(p.strip() for p in v.split(s)) for s in SEPARATORS)]
    parts_are_labels = [v for v in joined if any(p.strip() in singles for s in SEPARATORS for p in v.split(s))]
    rows = sum(tally.counts[v] for v in joined)
    return joined if parts_are_labels or rows >= 0.2 * max(1, sum(tally.counts.values())) else []


def check_shape(column: str, tally: LabelTally) -> None:
    """Refuse a column that does not hold one class per row (missing, numeric, several per row)."""
    key = f"dataset.label_column is '{column}'"
    if tally.missing_count:
        raise ConfigError(f"{key}, but {tally.source} has no label in {tally.missing_count} row(s) "
                          f"({_places(tally.missing, tally.missing_count)}); fill them in or remove those rows")
    if tally.lists:
        place, several = tally.lists[0]
        raise ConfigError(f"{key}, but {tally.source} holds several labels per row ({place}: {several}); that is "
                          "multi-label classification: use task=multi_label, or give one label per row")
    if tally.floats:
        place, number = tally.floats[0]
        raise ConfigError(f"{key}, but {tally.source} holds non-integer numbers ({place}: {number}), which look "
                          "like a regression target, not classes: use task=regression, or give class labels")
    joined = _joined(tally)
    if joined:
        raise ConfigError(f"{key}, but {tally.source} holds several labels joined in one cell "
                          f"({tally.first_place[joined[0]]}: {joined[0]!r}); that is multi-label classification: use "
                          "task=multi_label (task.label_separator says what joins them), or give one label per row")


def _integer(text: str) -> int | None:
    return int(text) if text.lstrip("-+").isdigit() else None


def _integer_labels_to_names(names: list[str], tallies: dict[str, LabelTally]) -> dict[str, str]:
    """Integer labels index `dataset.label_names` from 0: value-as-read -> its name."""
    mapping = {}
    for tally in tallies.values():
        for value in sorted(tally.counts, key=int):
            index = int(value)
            if not 0 <= index < len(names):
                raise ConfigError(
                    f"dataset.label_names has {len(names)} names ({', '.join(names)}), but {tally.source} "
                    f"{tally.first_place[value]} has integer label {index}; integer labels index "
                    f"label_names from 0, so they must be in 0..{len(names) - 1}")
            mapping[value] = names[index]
    return mapping


def class_names(column: str, label_names: list[str],
                tallies: dict[str, LabelTally]) -> tuple[list[str], dict[str, str], list[str]]:
    """The classes in order, value-as-read -> class name, and warnings.

    Args:
        column: `dataset.label_column` (named in messages).
        label_names: `dataset.label_names` (may be empty).
        tallies: split -> its LabelTally; 'train' must be present.

    Raises:
        ConfigError: naming the file, the place and the rule broken.
    """
    for tally in tallies.values():
        check_shape(column, tally)
    train = tallies["train"]
    notes: list[str] = []
    seen = {value for tally in tallies.values() for value in tally.counts}
    if label_names:
        names = [str(name) for name in label_names]
        if len(set(names)) != len(names):
            raise ConfigError(f"dataset.label_names is {names}, but names must be distinct")
        if seen <= set(names):
            mapping = {name: name for name in names}
        elif all(_integer(v) is not None for v in seen):
            mapping = _integer_labels_to_names(names, tallies)
        else:
            for tally in tallies.values():
                unknown = sorted(set(tally.counts) - set(names))
                if unknown:
                    raise ConfigError(
                        f"dataset.label_names is {names}, but {tally.source} has label {unknown[0]!r} "
                        f"({tally.first_place[unknown[0]]}) that is not among them"
                        + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
            mapping = {name: name for name in names}
        unused = [n for n in names if not any(mapping.get(v) == n for v in train.counts)]
        if unused:
            notes.append(f"dataset.label_names: no training rows for {', '.join(repr(n) for n in unused)}")
    else:
        ints = all(_integer(v) is not None for v in train.counts)
        names = sorted(train.counts, key=lambda v: (0, int(v), "") if ints else (1, 0, v))
        mapping = {name: name for name in names}
    if len(names) < 2:
        raise ConfigError(f"dataset.label_column is '{column}', but {train.source} has only one class "
                          f"({', '.join(names) or 'none'}); a classifier needs at least two")
    in_train = {mapping[v] for v in train.counts}
    for split, tally in tallies.items():
        missing = sorted({mapping.get(v, v) for v in tally.counts} - in_train)
        if split != "train" and missing:
            value = next(v for v in tally.counts if mapping.get(v, v) == missing[0])
            raise ConfigError(f"dataset.label_column is '{column}', but {tally.source} has label {missing[0]!r} "
                              f"({tally.first_place[value]}), which the training split lacks; a model cannot "
                              "learn a class it never sees: add training rows or remove it")
    counts = Counter({mapping[v]: n for v, n in train.counts.items()})
    rare = [f"{name!r} ({counts[name]} row{'s' if counts[name] > 1 else ''})" for name in names
            if 0 < counts[name] < RARE_CLASS_ROWS]
    if rare:
        notes.append(f"{train.source}: class{'es' if len(rare) > 1 else ''} with fewer than {RARE_CLASS_ROWS} "
                     f"training rows: {', '.join(rare)}; a typo in a label makes such a class")
    return names, mapping, notes
