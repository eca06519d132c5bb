"""Read the text and label columns (and a pair's second text) of a local csv, json or parquet file, row by row.

One reader serves the resolve-time check and the snapshot, so what was checked is what gets tokenised.
It streams: csv and json-lines files are read a line at a time and parquet files a batch at a time (a
json array is parsed whole: the format has no row boundary to stream on). Every row comes with where it
is in the file (a line number for csv and json lines, a row number otherwise), and every error names the
file and that place, never a decoder's traceback.

csv follows RFC 4180 through Python's `csv` module: quoted cells may hold the delimiter and newlines.
Text encodings: `dataset.encoding` (a Python codec name); utf-8, the default, also accepts a leading
byte-order mark (Excel writes one), which is dropped rather than glued to the first column's name.
"""

from __future__ import annotations

import codecs
import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflows.payloads.errors import ConfigError

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # an article in one cell is normal, not an attack


@dataclass(frozen=True)
class Row:
    """One record: where it is (`place`: 'line 12' or 'row 12'), its text and its label as read, and
    its second text when a third column was asked for (pair classification)."""

    place: str
    text: Any
    label: Any
    pair: Any = None


def python_codec(encoding: str) -> str:
    """The codec to open a file with: utf-8 becomes utf-8-sig, which drops a byte-order mark.

    Raises:
        ConfigError: when Python knows no such codec.
    """
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(f"dataset.encoding is '{encoding}', but Python knows no such codec "
                          "(e.g. utf-8, utf-16, latin-1, cp1252)") from None
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def first_bad_byte(path: Path, encoding: str) -> tuple[int, int]:
    """(byte offset, line) of the first byte that does not decode; (-1, -1) when the file decodes."""
    decoder = codecs.getincrementaldecoder(python_codec(encoding))()
    offset, line = 0, 1
    with path.open("rb") as f:
        while chunk := f.read(1 << 16):
            for i in range(len(chunk)):
                try:
                    decoder.decode(chunk[i:i + 1])
                except UnicodeDecodeError:
                    return offset + i, line + chunk[:i].count(b"\n")
            offset += len(chunk)
            line += chunk.count(b"\n")
    return -1, -1


def _decode_error(label: str, path: Path, encoding: str) -> ConfigError:
    offset, line = first_bad_byte(path, encoding)
    where = f"at byte {offset} (line {line})" if offset >= 0 else "near its end"
    return ConfigError(f"{label} '{path}' is not valid {encoding} {where}; set dataset.encoding to the file's "
                       "encoding (e.g. dataset.encoding=latin-1 or cp1252)")


def read_columns(path: Path, fmt: str, encoding: str, label: str) -> list[str]:
    """The file's column names: csv header, parquet schema, first json record's keys."""
    if path.stat().st_size == 0:
        raise ConfigError(f"{label} '{path}' has no rows (the file is empty)")
    if fmt == "parquet":
        import pyarrow.parquet as pq  # only for parquet files: the runner imports this module

        try:
            return list(pq.read_schema(path).names)
        except Exception as error:  # noqa: BLE001 - pyarrow raises several types for a damaged file
            raise ConfigError(f"{label} '{path}' is not a readable parquet file: {error}") from None
    try:
        with path.open(encoding=python_codec(encoding), newline="") as f:
            if fmt == "csv":
                return [name.strip() for name in next(csv.reader(f), [])]
            for row in _json_rows(path, f, label):
                return list(row.text.keys()) if isinstance(row.text, dict) else []
            return []
    except UnicodeDecodeError:
        raise _decode_error(label, path, encoding) from None


def read_rows(path: Path, fmt: str, columns: tuple[str, ...], encoding: str, label: str) -> Iterator[Row]:
    """Yield (place, text, label[, pair]) for every record of `path`; `columns` names the text and label
    columns, and the second text's column when there is a third.

    Raises:
        ConfigError: for an encoding error, a ragged csv row, a json line that does not parse or a
            file with no rows, naming the file and the line.
    """
    empty = True
    try:
        if fmt == "parquet":
            rows: Iterator[Row] = _parquet_rows(path, columns)
        else:
            f = path.open(encoding=python_codec(encoding), newline="")
            rows = _csv_rows(path, f, columns, label) if fmt == "csv" else (
                Row(r.place, *(_get(r.text, c) for c in columns)) for r in _json_rows(path, f, label))
        for row in rows:
            empty = False
            yield row
    except UnicodeDecodeError:
        raise _decode_error(label, path, encoding) from None
    if empty:
        raise ConfigError(f"{label} '{path}' has no rows" + (" (only a header)" if fmt == "csv" else ""))


def _get(record: Any, column: str) -> Any:
    return record.get(column) if isinstance(record, dict) else None


def _csv_rows(path: Path, f: Any, columns: tuple[str, ...], label: str) -> Iterator[Row]:
    with f:
        reader = csv.reader(f)
        try:
            header = [name.strip() for name in next(reader, [])]
            where = [header.index(c) if c in header else -1 for c in columns]
            line = reader.line_num
            for cells in reader:
                start, line = line + 1, reader.line_num
                if not cells:
                    continue  # a blank line
                if len(cells) != len(header):
                    raise ConfigError(f"{label} '{path}' line {start} has {len(cells)} fields, but the header has "
                                      f"{len(header)} ({', '.join(header)}); quote cells that contain commas")
                yield Row(f"line {start}", *(cells[i] if i >= 0 else None for i in where))
        except csv.Error as error:
            raise ConfigError(f"{label} '{path}' line {reader.line_num} is not valid csv: {error}") from None


def _json_rows(path: Path, f: Any, label: str) -> Iterator[Row]:
    """Records of a json array or json-lines file as Rows whose `text` holds the whole record."""
    with f:
        head, skipped = f.read(1), 0
        while head and head.isspace():
            skipped += head == "\n"
            head = f.read(1)
        if head == "[":
            try:
                records = json.loads(head + f.read())
            except json.JSONDecodeError as error:
                raise ConfigError(f"{label} '{path}' line {error.lineno} is not valid json: {error.msg}") from None
            for number, record in enumerate(records, start=1):
                yield _record(path, f"row {number}", record, label)
            return
        number = skipped
        for text in _lines_from(head + f.readline(), f):
            number += 1
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise ConfigError(f"{label} '{path}' line {number} is not valid json: {error.msg} "
                                  f"(column {error.colno}); json-lines files hold one object per line") from None
            yield _record(path, f"line {number}", record, label)


def _lines_from(first: str, f: Any) -> Iterator[str]:
    yield first
    yield from f


def _record(path: Path, place: str, record: Any, label: str) -> Row:
    if not isinstance(record, dict):
        raise ConfigError(f"{label} '{path}' {place} is {type(record).__name__} {str(record)[:40]!r}, "
                          "but each record must be an object of column: value")
    return Row(place, record, None)


def _parquet_rows(path: Path, columns: tuple[str, ...]) -> Iterator[Row]:
    import pyarrow.parquet as pq  # only for parquet files: the runner imports this module

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000, columns=list(dict.fromkeys(columns))):
        data = batch.to_pydict()
        for values in zip(*(data[c] for c in columns), strict=False):
            number += 1
            yield Row(f"row {number}", *values)
