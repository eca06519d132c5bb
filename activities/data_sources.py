"""Load labelled text from a folder-per-class tree, local csv/json/parquet files or the hub.

Returns plain columns (texts, label strings) per split; tokenisation and storage are `snapshot.py`'s job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from activities.errors import ConfigError
from workflows.specs import DatasetSpec

SOURCES = ("text_folders", "files", "hub")
FORMATS = ("csv", "json", "parquet")
SPLITS = ("train", "validation", "test")


@dataclass
class RawSplit:
    texts: list[str]
    labels: list[str]


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


def check_dataset_spec(spec: DatasetSpec) -> None:
    """Cheap checks before anything runs: source, paths, format, and that the named columns exist.

    Raises:
        ConfigError: naming the key, its value and what would be valid.
    """
    if spec.source not in SOURCES:
        raise ConfigError(f"dataset.source is '{spec.source}', but must be one of: {', '.join(SOURCES)}")
    if spec.max_length < 8:
        raise ConfigError(f"dataset.max_length is {spec.max_length}, but must be >= 8")
    for key in ("validation_fraction", "test_fraction"):
        value = getattr(spec, key)
        if not 0.0 <= value < 0.5:
            raise ConfigError(f"dataset.{key} is {value}, but must be in [0, 0.5)")
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
        if spec.format not in FORMATS:
            raise ConfigError(f"dataset.format is '{spec.format}', but must be one of: {', '.join(FORMATS)}")
        for split, path in _files_of(spec).items():
            columns = _columns_of(path, spec.format)
            for key in ("text_column", "label_column"):
                column = getattr(spec, key)
                if column not in columns:
                    raise ConfigError(
                        f"dataset.{key} is '{column}', but {split} file '{path}' has columns: {', '.join(columns)}"
                    )
            check_file_content(spec, split, path)
    elif not spec.path:
        raise ConfigError("dataset.path is empty, but source 'hub' needs a hub dataset name")


SAMPLE_ROWS = 20_000
"""Rows read at resolve time to check a local file's content (the whole file when it is smaller)."""


def _sample(path: Path, fmt: str, columns: list[str]):
    """Up to SAMPLE_ROWS rows of `columns` as a pandas DataFrame, and whether that is the whole file."""
    import pandas as pd

    if fmt == "csv":
        frame = pd.read_csv(path, usecols=columns, nrows=SAMPLE_ROWS + 1, dtype=object, keep_default_na=False)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        batch = next(pq.ParquetFile(path).iter_batches(batch_size=SAMPLE_ROWS + 1, columns=columns), None)
        frame = batch.to_pandas() if batch is not None else pd.DataFrame(columns=columns)
    else:
        import json

        head = path.read_text(encoding="utf-8").lstrip()
        records = json.loads(head) if head.startswith("[") else [
            json.loads(line) for line in head.splitlines()[: SAMPLE_ROWS + 1] if line.strip()]
        frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in records[: SAMPLE_ROWS + 1]], columns=columns)
    return frame.head(SAMPLE_ROWS), len(frame) <= SAMPLE_ROWS


def check_file_content(spec: DatasetSpec, split: str, path: Path) -> None:
    """Rows exist; the text column holds text (not numbers); the training labels have two classes or more
    (checked on the whole file when it has at most SAMPLE_ROWS rows)."""
    frame, whole = _sample(path, spec.format, [spec.text_column, spec.label_column])
    if frame.empty:
        raise ConfigError(f"dataset.data_files.{split} is '{path}', but it has no rows")
    texts = frame[spec.text_column].dropna()
    numeric = texts.map(lambda v: not isinstance(v, str) or v.strip().lstrip("-").replace(".", "", 1).isdigit())
    if len(texts) and numeric.all():
        raise ConfigError(f"dataset.text_column is '{spec.text_column}', but its values in '{path}' are not text "
                          f"(e.g. {texts.iloc[0]!r}); name the column that holds the text")
    if split == "train" and whole and not spec.label_names:
        classes = frame[spec.label_column].dropna().astype(str).unique()
        if len(classes) < 2:
            raise ConfigError(f"dataset.label_column is '{spec.label_column}', but '{path}' has only one class "
                              f"({', '.join(classes) or 'none'}); a classifier needs at least two")


def _columns_of(path: Path, fmt: str) -> list[str]:
    """Column names read from the file header (csv), schema (parquet) or first record (json)."""
    if fmt == "csv":
        import csv

        with path.open(newline="", encoding="utf-8") as f:
            return next(csv.reader(f), [])
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import json

    with path.open(encoding="utf-8") as f:
        head = f.read(1 << 20).lstrip()
    if head.startswith("["):
        records = json.loads(path.read_text(encoding="utf-8"))
        return list(records[0].keys()) if records else []
    first = head.splitlines()[0] if head else "{}"
    return list(json.loads(first).keys())


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
            digest.update(path.read_bytes())
    else:
        digest.update(f"hub:{spec.path}:{spec.hub_config}".encode())
    return digest.hexdigest()


def load_splits(spec: DatasetSpec) -> dict[str, RawSplit]:
    """Read the source into one RawSplit per split present in the source (at least 'train')."""
    check_dataset_spec(spec)
    if spec.source == "text_folders":
        return {"train": _load_text_folders(Path(spec.path).expanduser())}
    import datasets

    if spec.source == "files":
        files = {split: str(path) for split, path in _files_of(spec).items()}
        loaded = datasets.load_dataset(spec.format, data_files=files)
    else:
        loaded = datasets.load_dataset(spec.path, spec.hub_config or None)
    splits: dict[str, RawSplit] = {}
    for split in SPLITS:
        if split not in loaded:
            continue
        table = loaded[split]
        for key in ("text_column", "label_column"):
            if getattr(spec, key) not in table.column_names:
                raise ConfigError(
                    f"dataset.{key} is '{getattr(spec, key)}', but split {split} has columns: "
                    f"{', '.join(table.column_names)}"
                )
        texts = table[spec.text_column]
        bad = next((t for t in texts if not isinstance(t, str)), None)
        if bad is not None:
            raise ConfigError(
                f"dataset.text_column is '{spec.text_column}', but it holds {type(bad).__name__} values "
                f"(e.g. {bad!r}), not text"
            )
        splits[split] = RawSplit(texts=list(texts), labels=[str(v) for v in table[spec.label_column]])
    if "train" not in splits:
        raise ConfigError(f"dataset '{spec.name}' has no 'train' split; found: {', '.join(loaded.keys())}")
    return splits


def _load_text_folders(root: Path) -> RawSplit:
    """One class per sub-folder, labelled by the sub-folder's name; files read as UTF-8 text."""
    texts: list[str] = []
    labels: list[str] = []
    for folder in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(("_", "."))):
        for file in sorted(folder.iterdir()):
            if file.is_file() and not file.name.startswith("."):
                texts.append(file.read_text(encoding="utf-8", errors="replace"))
                labels.append(folder.name)
    return RawSplit(texts=texts, labels=labels)
