"""A column of texts kept in an Arrow file on disk instead of in Python strings, for a snapshot build.

A snapshot reads every text of the source before it tokenises any (the validation and test splits are
carved out of train by label, in a shuffled order), so with texts held as Python strings a build's memory
grew with the rows (about 300 bytes a row for a paragraph of news). `SpilledTexts` writes them to an Arrow
IPC file in batches of `BATCH` as they are read; `close()` memory-maps the file and gives a `TextColumn`,
which the build reads a chunk at a time (`column[start:end]`) in any row order (`column.subset(indices)`),
so what stays in memory is the page cache's business. Rows never change: the tokens are those of the
texts as read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

BATCH = 10_000
"""Texts per record batch of the file: row i is in batch i // BATCH, at i % BATCH."""


class SpilledTexts:
    """Texts appended one at a time, written to `path` (an Arrow IPC file) every `BATCH` texts."""

    def __init__(self, path: Path):
        self.path = path
        self._buffer: list[str] = []
        self._sink: Any = None
        self._writer: Any = None

    def append(self, text: str) -> None:
        self._buffer.append(text)
        if len(self._buffer) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._writer is None:
            self._sink = pa.OSFile(str(self.path), "wb")
            self._writer = pa.ipc.new_file(self._sink, pa.schema([("text", pa.large_string())]))
        self._writer.write_batch(pa.record_batch([pa.array(self._buffer, pa.large_string())], names=["text"]))
        self._buffer = []

    def close(self) -> TextColumn:
        """Finish the file and map it: the column of every text appended, in order."""
        import pyarrow as pa

        if self._buffer or self._writer is None:
            self._flush()
        self._writer.close()
        self._sink.close()
        reader = pa.ipc.open_file(pa.memory_map(str(self.path)))
        return TextColumn([reader.get_batch(i).column(0) for i in range(reader.num_record_batches)])


class TextColumn(Sequence[str]):
    """The texts of a spilled file (memory-mapped batches), all of them or the rows `indices` in that order."""

    def __init__(self, batches: list[Any], indices: Any = None):
        import numpy as np

        self.batches = batches
        total = sum(len(b) for b in batches)
        self.indices = np.arange(total, dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def subset(self, indices: Sequence[int]) -> TextColumn:
        """The rows `indices` of this column, in that order (no text is read)."""
        return TextColumn(self.batches, self.indices[list(indices)])

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return self._read(self.indices[key])
        return self._read(self.indices[[key]])[0]

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), BATCH):
            yield from self._read(self.indices[start:start + BATCH])

    def _read(self, rows: Any) -> list[str]:
        """The texts of file rows `rows`, in order: one `take` per record batch they fall in."""
        import numpy as np
        import pyarrow as pa

        out: list[Any] = [None] * len(rows)
        where = rows // BATCH
        order = np.argsort(where, kind="stable")
        bounds = np.flatnonzero(np.diff(where[order])) + 1
        for group in np.split(order, bounds) if len(order) else []:
            batch = self.batches[int(where[group[0]])]
            for position, text in zip(group.tolist(), batch.take(pa.array(rows[group] % BATCH)).to_pylist(),
                                      strict=True):
                out[position] = text
        return out


def subset(values: Sequence[Any], indices: Sequence[int]) -> Sequence[Any]:
    """The items `indices` of a list or of a `TextColumn`, in that order."""
    if isinstance(values, TextColumn):
        return values.subset(indices)
    return [values[i] for i in indices]
