"""What a multi-label column holds, and the label names a multi-label model is trained on (task=multi_label).

`LabelSetTally` counts, row by row, what each split's label column holds; `label_sets` turns the tallies
into the ordered label names and each row's label set, or refuses with the reason and the place in the
file. Both run at resolve time and when the snapshot is made (`activities.data_sources.read_dataset`).

Rules:
- A cell holds a set of labels: a list (json, parquet), or text with the labels joined by
  `task.label_separator` (csv; also a json/parquet string), blanks around each label removed and empty
  parts ignored ("a; b;" is {a, b}). A repeated label counts once.
- An empty list, or an empty csv cell, is the empty set: a valid "none of these" row (csv has no other
  way to write it). A null (json null, parquet null, NaN) is a missing label: an error naming the rows.
  Rows with no labels are counted in a warning, so a column that lost its labels does not train silently.
- A label is compared as text: integers as digits, an integral float as the integer. A non-integral
  number is refused (it looks like a regression target: task=regression).
- `dataset.label_names` fixes the labels and their order: values are taken by name, or, when every value
  is an integer, as indexes into the names from 0. Without label_names the labels are the sorted union
  of the training labels (integers in numeric order). A validation or test label the training split
  lacks is an error naming it; fewer than two labels is an error.
- A training split in which no row has more than one label is single-label data: a warning suggests
  task=sequence_classification (softmax over one class per row), but the run goes on.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from activities.labels import RARE_CLASS_ROWS, SHOWN, label_text
from workflows.payloads.errors import ConfigError


@dataclass
class LabelSetTally:
    """What one split's multi-label column held: per-label row counts and the first places of odd rows."""

    source: str
    """The file as named in messages, e.g. "train file 'x.csv'"."""
    separator: str = ";"
    counts: Counter[str] = field(default_factory=Counter)
    first_place: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    most: int = 0
    """The most labels any row held."""
    empty: list[str] = field(default_factory=list)
    empty_count: int = 0
    missing: list[str] = field(default_factory=list)
    missing_count: int = 0
    floats: list[tuple[str, float]] = field(default_factory=list)

    def _parts(self, value: Any) -> list[Any] | None:
        """The labels of one cell as read (None when missing)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if not isinstance(value, (str, list, tuple)) and hasattr(value, "tolist"):  # numpy arrays (parquet)
            value = value.tolist()
        if isinstance(value, (list, tuple)):
            return list(value)
        if isinstance(value, str):
            return [part for part in value.split(self.separator) if part.strip()]
        return [value]

    def add(self, place: str, value: Any) -> tuple[str, ...]:
        """Count the cell `value` read at `place`; returns its labels as text (empty when it has none)."""
        parts = self._parts(value)
        if parts is None:
            self.missing_count += 1
            if len(self.missing) < SHOWN:
                self.missing.append(place)
            return ()
        labels: list[str] = []
        for part in parts:
            text = label_text(part)
            if isinstance(text, float):
                if len(self.floats) < SHOWN:
                    self.floats.append((place, text))
                continue
            if isinstance(text, str) and text and text not in labels:
                labels.append(text)
        self.rows += 1
        self.most = max(self.most, len(labels))
        if not labels:
            self.empty_count += 1
            if len(self.empty) < SHOWN:
                self.empty.append(place)
        for text in labels:
            self.counts[text] += 1
            self.first_place.setdefault(text, place)
        return tuple(labels)


def _places(places: list[str], total: int) -> str:
    return ", ".join(places) + (f" and {total - len(places)} more" if total > len(places) else "")


def _integer(text: str) -> bool:
    return text.lstrip("-+").isdigit()


def _names_and_mapping(label_names: list[str], tallies: dict[str, LabelSetTally]) -> tuple[list[str], dict[str, str]]:
    """The label names in order and value-as-read -> name."""
    seen = {value for tally in tallies.values() for value in tally.counts}
    if not label_names:
        train = tallies["train"].counts
        ints = all(_integer(v) for v in train)
        names = sorted(train, key=lambda v: (0, int(v), "") if ints else (1, 0, v))
        return names, {name: name for name in names}
    names = [str(name) for name in label_names]
    if len(set(names)) != len(names):
        raise ConfigError(f"dataset.label_names is {names}, but names must be distinct")
    if not seen <= set(names) and all(_integer(v) for v in seen):
        for tally in tallies.values():
            for value in tally.counts:
                if not 0 <= int(value) < len(names):
                    raise ConfigError(
                        f"dataset.label_names has {len(names)} names ({', '.join(names)}), but {tally.source} "
                        f"{tally.first_place[value]} has integer label {int(value)}; integer labels index "
                        f"label_names from 0, so they must be in 0..{len(names) - 1}")
        return names, {value: names[int(value)] for value in seen}
    for tally in tallies.values():
        unknown = sorted(set(tally.counts) - set(names))
        if unknown:
            raise ConfigError(f"dataset.label_names is {names}, but {tally.source} has label {unknown[0]!r} "
                              f"({tally.first_place[unknown[0]]}) that is not among them"
                              + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
    return names, {name: name for name in names}


def _check_cells(key: str, tally: LabelSetTally) -> None:
    if tally.missing_count:
        raise ConfigError(f"{key}, but {tally.source} has no label cell in {tally.missing_count} row(s) "
                          f"({_places(tally.missing, tally.missing_count)}); give a list ([] for none of the "
                          "labels) or remove those rows")
    if tally.floats:
        place, number = tally.floats[0]
        raise ConfigError(f"{key}, but {tally.source} holds non-integer numbers ({place}: {number}), which look "
                          "like a regression target, not labels: use task=regression, or give label names")


def label_sets(column: str, label_names: list[str],
               tallies: dict[str, LabelSetTally]) -> tuple[list[str], dict[str, str], list[str]]:
    """The labels in order, value-as-read -> label name, and warnings.

    Args:
        column: `dataset.label_column` (named in messages).
        label_names: `dataset.label_names` (may be empty).
        tallies: split -> its LabelSetTally; 'train' must be present.

    Raises:
        ConfigError: naming the file, the place and the rule broken.
    """
    key = f"dataset.label_column is '{column}' with task multi_label"
    for tally in tallies.values():
        _check_cells(key, tally)
    names, mapping = _names_and_mapping(label_names, tallies)
    train = tallies["train"]
    if len(names) < 2:
        raise ConfigError(f"{key}, but {train.source} has {len(names)} label(s) ({', '.join(names) or 'none'}); "
                          "a multi-label model needs at least two")
    in_train = {mapping[v] for v in train.counts}
    for split, tally in tallies.items():
        lacking = [v for v in tally.counts if mapping.get(v, v) not in in_train]
        if split != "train" and lacking:
            raise ConfigError(f"{key}, but {tally.source} has label {mapping.get(lacking[0], lacking[0])!r} "
                              f"({tally.first_place[lacking[0]]}), which the training split lacks; a model cannot "
                              "learn a label it never sees: add training rows or remove it")
    notes: list[str] = []
    if train.most <= 1:
        notes.append(f"{train.source}: no row has more than one label; that is single-label data, which "
                     "task=sequence_classification fits (one class per row)")
    for tally in tallies.values():
        if tally.empty_count:
            notes.append(f"{tally.source}: {tally.empty_count} row(s) have no labels "
                         f"({_places(tally.empty, tally.empty_count)}); they train and score as none of the labels")
    counts = Counter({mapping[v]: n for v, n in train.counts.items()})
    unused = [n for n in names if not counts[n]]
    if unused:
        notes.append(f"dataset.label_names: no training rows for {', '.join(repr(n) for n in unused)}")
    rare = [f"{name!r} ({counts[name]} row{'s' if counts[name] > 1 else ''})" for name in names
            if 0 < counts[name] < RARE_CLASS_ROWS]
    if rare:
        notes.append(f"{train.source}: label{'s' if len(rare) > 1 else ''} with fewer than {RARE_CLASS_ROWS} "
                     f"training rows: {', '.join(rare)}; a typo in a label makes such a label")
    return names, mapping, notes


def multi_hot(labels: tuple[str, ...], index: dict[str, int]) -> list[float]:
    """A row's label set as the float vector BCE trains on: 1.0 at each of its labels' indices."""
    row = [0.0] * len(index)
    for label in labels:
        row[index[label]] = 1.0
    return row


NO_LABEL = "(none)"
"""The stratum of a row with no labels, and what `predict` prints for a text given none."""


def strata(labels: list[tuple[str, ...]]) -> list[str]:
    """What each training row is stratified by when validation/test are carved out of train: its rarest
    label (fewest training rows; ties by name), or '(none)' for a row with no labels, so every carved split
    gets its share of each rare label's rows."""
    counts = Counter(label for row in labels for label in row)
    return [min(row, key=lambda name: (counts[name], name)) if row else NO_LABEL for row in labels]


def check_multi_label_task(task: Any) -> None:
    """`task.threshold` and `task.label_separator` of a multi_label task (a `TaskSpec`)."""
    threshold = task.threshold
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 < threshold < 1.0:
        raise ConfigError(f"task.threshold is {threshold}, but must be in (0, 1): the sigmoid probability above "
                          "which a label is predicted")
    if not task.label_separator or task.label_separator.isspace():
        raise ConfigError(f"task.label_separator is {task.label_separator!r}, but must be a non-blank string "
                          "(what joins several labels in one csv cell, e.g. ';' or '|')")
