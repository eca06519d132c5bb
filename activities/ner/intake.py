"""What a token-classification dataset holds: a list of words and a list of as many tags in each row.

Rules (checked the same way at resolve time and when the snapshot is made; each error is one line naming
the key, the file and the row):
- The text column holds a list of words per row (json or parquet lists; a csv cell may hold a JSON list such
  as `["John", "lives"]`). A plain text is refused, pointing at task=sequence_classification.
- A word is a non-blank text (numbers are taken as their text); a row with no words is empty text
  (`dataset.on_empty_text`: error or drop).
- The label column holds a list of as many tags as there are words; a row whose lengths differ is refused,
  saying both lengths.
- Tags are compared as class values are (`activities.labels`): names, or integers indexing
  `dataset.label_names` from 0. A tag missing in a row is refused. A validation or test tag the training
  split lacks is refused.
- Tags must be IOB2 (BIO) names: `O`, `B-TYPE` or `I-TYPE`. Any other name (`PER`, IOBES `S-PER`) is refused
  naming it. An `I-TYPE` that follows no `B-TYPE` (IOB1 style, or a noisy file) is accepted: entity
  extraction starts an entity there, as conlleval and seqeval's default mode do (`activities.ner.spans`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from activities.labels import SHOWN, LabelTally, class_names
from activities.tabular import Row
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import DatasetSpec

OUTSIDE = "O"
PREFIXES = ("B-", "I-")


@dataclass
class TaggedIntake:
    """Each split's word lists and tag lists (tag names), the tag names in order, and warnings."""

    splits: dict[str, tuple[list[list[str]], list[list[str]]]]
    names: list[str]
    notes: list[str] = field(default_factory=list)


def as_list(value: Any) -> list[Any] | str | None:
    """A cell as a list (a JSON list in a csv cell too), None when missing, or its text when it is not a list."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if not isinstance(value, str) and hasattr(value, "tolist"):  # numpy arrays from parquet list columns
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return list(value)
    text = str(value)
    if text.lstrip().startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(parsed, list):
            return parsed
    return text


def _words(spec: DatasetSpec, source: str, row: Row) -> list[str] | None:
    """The row's words (None when it has none), or a ConfigError naming the row."""
    key = f"dataset.text_column is '{spec.text_column}' with task token_classification"
    words = as_list(row.text)
    if isinstance(words, str):
        raise ConfigError(f"{key}, but {source} {row.place} holds a text ({words[:40]!r}), not a list of words; "
                          "for one label per text use task=sequence_classification")
    if not words:
        return None
    for number, word in enumerate(words, start=1):
        if isinstance(word, bool) or not isinstance(word, (str, int, float)) or not str(word).strip():
            raise ConfigError(f"{key}, but {source} {row.place} word {number} is {word!r}; every word must be a "
                              "non-blank text")
    return [str(word) for word in words]


def _tags(spec: DatasetSpec, source: str, row: Row, words: list[str]) -> list[Any]:
    key = f"dataset.label_column is '{spec.label_column}' with task token_classification"
    tags = as_list(row.label)
    if tags is None or isinstance(tags, str):
        raise ConfigError(f"{key}, but {source} {row.place} holds {tags!r}, not a list of tags (one per word)")
    if len(tags) != len(words):
        raise ConfigError(f"{key}, but {source} {row.place} has {len(words)} words and {len(tags)} tags; give "
                          "one tag per word")
    return tags


def _check_scheme(column: str, names: list[str], places: dict[str, str]) -> None:
    """Refuse tag names that are not IOB2 (O, B-TYPE, I-TYPE)."""
    bad = [n for n in names if n != OUTSIDE and not (n.startswith(PREFIXES) and len(n) > 2)]
    if bad:
        where = places.get(bad[0], "dataset.label_names")
        raise ConfigError(f"dataset.label_column is '{column}' with task token_classification, but tag {bad[0]!r} "
                          f"({where}) is not a BIO tag; tags must be O, B-TYPE or I-TYPE (IOB2)")


def read_tagged(spec: DatasetSpec, sources: Any, keep: bool) -> TaggedIntake:
    """Read every split's words and tags through the rules above.

    Args:
        sources: (split, how messages name it, its rows) for each split, train first
            (`activities.data_sources._sources`).
        keep: Keep the words and tags (the snapshot) or only check them (the resolver).
    """
    tallies: dict[str, LabelTally] = {}
    kept: dict[str, tuple[list[list[str]], list[list[str]]]] = {}
    places: dict[str, str] = {}
    notes: list[str] = []
    label_names = list(spec.label_names)
    for split, source, rows in sources:
        tally = tallies[split] = LabelTally(source)
        words_kept: list[list[str]] = []
        tags_kept: list[list[str]] = []
        empty: list[str] = []
        empty_count = 0
        for row in rows:
            words = _words(spec, source, row)
            if words is None:
                empty_count += 1
                if len(empty) < SHOWN:
                    empty.append(row.place)
                continue
            values = [tally.add(f"{row.place} word {n}", tag) for n, tag in
                      enumerate(_tags(spec, source, row, words), start=1)]
            if keep:
                words_kept.append(words)
                tags_kept.append(values)
        for value, place in tally.first_place.items():
            places.setdefault(value, f"{source} {place}")
        _empty_rows(spec, source, empty, empty_count, notes)
        if not tally.counts and not tally.missing_count:
            raise ConfigError(f"{source} has no rows with words in column '{spec.text_column}'")
        kept[split] = (words_kept, tags_kept)
        if split == "train" and not label_names:
            label_names = list(getattr(rows, "class_names", []))  # a hub ClassLabel's names
    if "train" not in tallies:
        raise ConfigError(f"dataset '{spec.name}' has no 'train' split; found: {', '.join(tallies) or 'none'}")
    names, mapping, label_notes = class_names(spec.label_column, label_names, tallies)
    _check_scheme(spec.label_column, names, {mapping.get(v, v): p for v, p in places.items()})
    splits = {split: (words, [[mapping[t] for t in tags] for tags in tag_lists])
              for split, (words, tag_lists) in kept.items()}
    return TaggedIntake(splits if keep else {}, names, notes + label_notes)


def _empty_rows(spec: DatasetSpec, source: str, empty: list[str], count: int, notes: list[str]) -> None:
    if not count:
        return
    where = ", ".join(empty) + (f" and {count - len(empty)} more" if count > len(empty) else "")
    if spec.on_empty_text == "error":
        raise ConfigError(f"dataset.text_column is '{spec.text_column}', but {source} has no words in {count} "
                          f"row(s) ({where}); fill them in, or set dataset.on_empty_text=drop to leave them out")
    notes.append(f"{source}: dropped {count} row(s) with no words ({where}); dataset.on_empty_text=drop")
