"""Load labelled text from a folder-per-class tree, local csv/json/parquet files or the hub.

`read_dataset` is the one reading of a dataset: the resolver calls it to check the files before anything
starts (keeping no text), the snapshot calls it to get the texts; both run the same reader
(`activities.tabular`), the same rules for empty text (`dataset.on_empty_text`) and the same label rules
(`activities.labels`). It returns plain columns (texts, class names) per split; tokenisation and storage
are `snapshot.py`'s job.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activities.labels import SHOWN, LabelTally, class_names
from activities.multi_label import LabelSetTally, check_multi_label_task, label_sets
from activities.ner.intake import read_tagged
from activities.spilled_texts import SpilledTexts
from activities.tabular import Row, python_codec, read_columns, read_rows
from activities.targets import TargetTally, check_targets
from workflows.payloads.choices import DATASET_FORMATS, DATASET_SOURCES, ON_EMPTY_TEXT, TASKS, TRUNCATIONS
from workflows.payloads.errors import ConfigError
from workflows.payloads.specs import DatasetSpec

SPLITS = ("train", "validation", "test")


@dataclass
class RawSplit:
    texts: Sequence[Any]
    """Texts, or for token_classification lists of words: a list, or a `TextColumn` on disk when the texts
    were spilled (`load_splits(spill=...)`)."""
    labels: list[Any]
    """Class names (classification), floats (regression), tuples of label names (multi_label) or lists of tag
    names (token_classification)."""
    pairs: Sequence[str] | None = None
    """Each example's second text (pair_classification); None for one-text tasks."""


@dataclass
class Intake:
    """What reading a dataset gave: splits (empty when only checking), class names in order (regression:
    the label column's name, its one output), warnings, and a regression's training label stats."""

    splits: dict[str, RawSplit]
    label_names: list[str]
    notes: list[str] = field(default_factory=list)
    label_stats: dict[str, float] = field(default_factory=dict)


def _files_of(spec: DatasetSpec) -> dict[str, Path]:
    if not spec.data_files or "train" not in spec.data_files:
        raise ConfigError(
            f"dataset.data_files is {dict(spec.data_files)}, but must name at least a 'train' file "
            f"(splits: {', '.join(SPLITS)})"
        )
    files: dict[str, Path] = {}
    for split, name in spec.data_files.items():
        if split not in SPLITS:
            raise ConfigError(f"dataset.data_files.{split} is not a split; valid splits: {', '.join(SPLITS)}")
        path = Path(name).expanduser()
        if not path.is_file():
            raise ConfigError(f"dataset.data_files.{split} is '{name}', but no such file exists")
        files[split] = path
    return files


def check_dataset_spec(spec: DatasetSpec) -> list[str]:
    """Every check that can run before anything starts; for local files that is one streaming read of
    each file (rows, text, labels), keeping no text. Returns warnings to show the user.

    Raises:
        ConfigError: naming the key (or file and line), its value and what would be valid.
    """
    _check_settings(spec)
    if spec.source == "files":
        return read_dataset(spec, keep=False).notes
    return []


def _check_settings(spec: DatasetSpec) -> None:
    """The checks that read no rows: source, format, fractions, options, folders, columns named."""
    if spec.source not in DATASET_SOURCES:
        raise ConfigError(f"dataset.source is '{spec.source}', but must be one of: {', '.join(DATASET_SOURCES)}")
    if spec.max_length < 8:
        raise ConfigError(f"dataset.max_length is {spec.max_length}, but must be >= 8")
    for key in ("validation_fraction", "test_fraction"):
        value = getattr(spec, key)
        if not 0.0 <= value < 0.5:
            raise ConfigError(f"dataset.{key} is {value}, but must be in [0, 0.5)")
    if spec.on_empty_text not in ON_EMPTY_TEXT:
        raise ConfigError(f"dataset.on_empty_text is '{spec.on_empty_text}', but must be one of: "
                          f"{', '.join(ON_EMPTY_TEXT)}")
    python_codec(spec.encoding)
    _check_task(spec)
    if spec.source == "text_folders":
        root = Path(spec.path).expanduser()
        if not root.is_dir():
            raise ConfigError(f"dataset.path is '{spec.path}', but it is not a folder (one sub-folder per class)")
        classes = [d for d in root.iterdir() if d.is_dir()]
        if len(classes) < 2:
            raise ConfigError(
                f"dataset.path is '{spec.path}', which has {len(classes)} class sub-folder(s); need at least 2"
            )
    elif spec.source == "files":
        if spec.format not in DATASET_FORMATS:
            raise ConfigError(f"dataset.format is '{spec.format}', but must be one of: {', '.join(DATASET_FORMATS)}")
        _files_of(spec)
    elif not spec.path:
        raise ConfigError("dataset.path is empty, but source 'hub' needs a hub dataset name")
    if spec.text_column == spec.label_column and spec.source != "text_folders":
        raise ConfigError(f"dataset.label_column is '{spec.label_column}', the same as dataset.text_column; "
                          "name the column that holds the labels")


def _check_task(spec: DatasetSpec) -> None:
    """The task's own settings, and the columns it reads."""
    task = spec.task
    if task.name not in TASKS:
        raise ConfigError(f"task.name is '{task.name}', but must be one of: {', '.join(TASKS)}")
    if task.truncation not in TRUNCATIONS:
        raise ConfigError(f"task.truncation is '{task.truncation}', but must be one of: {', '.join(TRUNCATIONS)}")
    if task.name == "multi_label":
        check_multi_label_task(task)
    pairs = task.name == "pair_classification"
    if pairs and not spec.text_pair_column:
        raise ConfigError("dataset.text_pair_column is empty, but task pair_classification reads two texts per "
                          "example: name the second text's column (e.g. dataset.text_pair_column=text_pair)")
    if not pairs and spec.text_pair_column:
        raise ConfigError(f"dataset.text_pair_column is '{spec.text_pair_column}', but task {task.name} reads one "
                          "text per example: use task=pair_classification, or leave the key empty")
    if pairs and spec.text_pair_column in (spec.text_column, spec.label_column):
        raise ConfigError(f"dataset.text_pair_column is '{spec.text_pair_column}', the same as another column; "
                          "name the column that holds each example's second text")
    if spec.source == "text_folders" and task.name != "sequence_classification":
        raise ConfigError(f"dataset.source is 'text_folders' (one class per folder), but task {task.name} needs "
                          "files with columns: use source files (csv, json or parquet)")


def columns_of(spec: DatasetSpec) -> tuple[str, ...]:
    """The columns a task reads, in `Row` order: text, label, and the pair's second text."""
    pair = (spec.text_pair_column,) if spec.task.name == "pair_classification" else ()
    return (spec.text_column, spec.label_column, *pair)


COLUMN_KEYS = ("text_column", "label_column", "text_pair_column")
"""The dataset keys naming `columns_of`'s columns, in the same order."""


def source_fingerprint(spec: DatasetSpec) -> str:
    """sha256 over the bytes of every source file (or the hub name), in a stable order."""
    digest = hashlib.sha256()
    if spec.source == "text_folders":
        root = Path(spec.path).expanduser()
        for file in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    elif spec.source == "files":
        for split, path in sorted(_files_of(spec).items()):
            digest.update(split.encode())
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
    else:
        digest.update(f"hub:{spec.path}:{spec.hub_config}".encode())
    return digest.hexdigest()


def load_splits(spec: DatasetSpec, spill: Path | None = None) -> Intake:
    """Read the source into one RawSplit per split present in the source (at least 'train').

    Args:
        spill: A folder to keep the texts of 'files' and 'hub' datasets in (Arrow files, memory-mapped;
            `activities.spilled_texts`) instead of in memory; None: Python lists.
    """
    _check_settings(spec)
    if spec.source == "text_folders":
        return _text_folders(spec)
    return read_dataset(spec, keep=True, spill=spill)


def _text(value: Any) -> str:
    """A text cell as text; '' for a missing one (empty, blank, null, NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else ""


def _looks_numeric(text: str) -> bool:
    return text.strip().lstrip("-").replace(".", "", 1).isdigit()


def _take(spec: DatasetSpec, source: str, rows: Any, tally: LabelTally | TargetTally | LabelSetTally, keep: bool,
          notes: list[str], spill: Path | None = None) -> RawSplit:
    """Run one split's rows through the text and label rules; the kept texts, label values and pairs
    (texts and pairs written to `{spill}.text.arrow` and `{spill}.pair.arrow` when `spill` is given)."""
    two = spec.task.name == "pair_classification"
    texts: Any = SpilledTexts(Path(f"{spill}.text.arrow")) if spill else []
    values: list[Any] = []
    pairs: Any = SpilledTexts(Path(f"{spill}.pair.arrow")) if spill and two else []
    empty: list[str] = []
    empty_count = numeric = kept = 0
    row: Row
    for row in rows:
        if isinstance(row.text, (list, tuple)) or (not isinstance(row.text, str) and hasattr(row.text, "tolist")):
            raise ConfigError(f"dataset.text_column is '{spec.text_column}', but {source} {row.place} holds a list "
                              f"(of words?), not a text; for a tag per word use task=token_classification")
        text, pair = _text(row.text), _text(row.pair) if two else "-"
        if not text or not pair:
            empty_count += 1
            if len(empty) < SHOWN:
                empty.append(row.place)
            continue
        kept += 1
        numeric += _looks_numeric(text)
        value = tally.add(row.place, row.label)
        if keep:
            texts.append(text)
            values.append(sys.intern(value) if isinstance(value, str) else value)  # one string per class
            if two:
                pairs.append(pair)
    where = ", ".join(empty) + (f" and {empty_count - len(empty)} more" if empty_count > len(empty) else "")
    if empty_count and spec.on_empty_text == "error":
        columns = f" (column '{spec.text_column}' or '{spec.text_pair_column}')" if two else ""
        raise ConfigError(f"dataset.text_column is '{spec.text_column}', but {source} has empty text{columns} in "
                          f"{empty_count} row(s) ({where}); fill them in, or set dataset.on_empty_text=drop to "
                          "leave them out")
    if empty_count:
        notes.append(f"{source}: dropped {empty_count} row(s) with empty text ({where}); dataset.on_empty_text=drop")
    if not kept:
        raise ConfigError(f"{source} has no rows with text in column '{spec.text_column}'")
    if numeric == kept:
        raise ConfigError(f"dataset.text_column is '{spec.text_column}', but its values in {source} are not text "
                          "(all are numbers); name the column that holds the text")
    if spill:
        texts = texts.close()
        pairs = pairs.close() if two else pairs
    return RawSplit(texts, values, pairs if two else None)


def read_dataset(spec: DatasetSpec, keep: bool, spill: Path | None = None) -> Intake:
    """Read every split of a 'files' or 'hub' dataset once, checking rows, text and labels as it goes.

    Args:
        keep: Keep the texts and labels (the snapshot) or only check them (the resolver).
        spill: With `keep`, a folder to write the texts to (`load_splits`).
    """
    columns = columns_of(spec)
    if spec.task.name == "token_classification":
        tagged = read_tagged(spec, _sources(spec, columns), keep)
        return Intake(splits={split: RawSplit(words, tags) for split, (words, tags) in tagged.splits.items()},
                      label_names=tagged.names, notes=tagged.notes)
    regression = spec.task.name == "regression"
    tallies: dict[str, Any] = {}
    kept: dict[str, RawSplit] = {}
    notes: list[str] = []
    label_names = list(spec.label_names)
    for split, source, rows in _sources(spec, columns):
        tallies[split] = TargetTally(source) if regression else LabelTally(source)
        if spec.task.name == "multi_label":
            tallies[split] = LabelSetTally(source, spec.task.label_separator)
        kept[split] = _take(spec, source, rows, tallies[split], keep, notes, spill / split if keep and spill else None)
        if split == "train" and not label_names:
            label_names = list(getattr(rows, "class_names", []))
    if "train" not in tallies:
        raise ConfigError(f"dataset '{spec.name}' has no 'train' split; found: {', '.join(tallies) or 'none'}")
    if regression:
        stats, target_notes = check_targets(spec.label_column, tallies)
        return Intake(splits=kept if keep else {}, label_names=[spec.label_column], notes=notes + target_notes,
                      label_stats=stats)
    if spec.task.name == "multi_label":
        names, mapping, label_notes = label_sets(spec.label_column, label_names, tallies)
        order = {name: i for i, name in enumerate(names)}
        splits = {split: RawSplit(raw.texts, [tuple(sorted({mapping[v] for v in row}, key=order.__getitem__))
                                              for row in raw.labels], raw.pairs) for split, raw in kept.items()}
        return Intake(splits=splits if keep else {}, label_names=names, notes=notes + label_notes)
    names, mapping, label_notes = class_names(spec.label_column, label_names, tallies)
    splits = {split: RawSplit(raw.texts, [mapping[v] for v in raw.labels], raw.pairs) for split, raw in kept.items()}
    return Intake(splits=splits if keep else {}, label_names=names, notes=notes + label_notes)


def _sources(spec: DatasetSpec, columns: tuple[str, ...]):
    """(split, how messages name it, its rows) for each split of the dataset, train first."""
    if spec.source == "files":
        for split, path in sorted(_files_of(spec).items(), key=lambda item: SPLITS.index(item[0])):
            source = f"{split} file '{path}'"
            present = read_columns(path, spec.format, spec.encoding, source)
            for key, column in zip(COLUMN_KEYS, columns, strict=False):
                if column not in present:
                    raise ConfigError(f"dataset.{key} is '{column}', but {source} has columns: "
                                      f"{', '.join(present) or '(none)'}")
            yield split, source, read_rows(path, spec.format, columns, spec.encoding, source)
        return
    import datasets  # slow to import, and only hub datasets need it: the runner imports this module

    loaded = datasets.load_dataset(spec.path, spec.hub_config or None)
    for split in SPLITS:
        if split not in loaded:
            continue
        table = loaded[split]
        for key, column in zip(COLUMN_KEYS, columns, strict=False):
            if column not in table.column_names:
                raise ConfigError(f"dataset.{key} is '{column}', but split {split} has columns: "
                                  f"{', '.join(table.column_names)}")
        yield split, f"hub split {split} of '{spec.path}'", _HubRows(table, columns)


class _HubRows:
    """A hub split's rows, with the class names of a ClassLabel column (integers index them)."""

    def __init__(self, table: Any, columns: tuple[str, ...]):
        self.table, self.columns = table, columns
        feature = table.features.get(columns[1])
        feature = getattr(feature, "feature", feature)  # a list of tags (token_classification): its ClassLabel
        self.class_names = list(getattr(feature, "names", None) or [])

    def __iter__(self):
        for number, values in enumerate(zip(*(self.table[c] for c in self.columns), strict=False), start=1):
            yield Row(f"row {number}", *values)


def _text_folders(spec: DatasetSpec) -> Intake:
    """One class per sub-folder, labelled by the sub-folder's name; files read as text (dataset.encoding)."""
    root = Path(spec.path).expanduser()
    texts: list[str] = []
    labels: list[str] = []
    for folder in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(("_", "."))):
        for file in sorted(folder.iterdir()):
            if file.is_file() and not file.name.startswith("."):
                texts.append(file.read_text(encoding=python_codec(spec.encoding), errors="replace"))
                labels.append(folder.name)
    tally = LabelTally(f"dataset.path '{spec.path}'")
    for label in labels:
        tally.add("", label)
    names, _, notes = class_names("(folder names)", list(spec.label_names), {"train": tally})
    return Intake(splits={"train": RawSplit(texts, labels)}, label_names=names, notes=notes)
