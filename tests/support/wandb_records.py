"""Read back what an offline W&B run recorded: the records of its `.wandb` file (W&B's transaction log, a
LevelDB-style log of protobuf `Record`s in 32 KiB blocks; wandb 0.31 no longer ships a Python reader)."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[Any]:
    """Every protobuf Record in the file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    ident, magic, _version = struct.unpack("<4sHB", data[:HEADER])
    assert ident == b":W&B" and magic == 0xBEE1, f"{path} is not a W&B transaction log"
    found, pending, offset = [], b"", HEADER
    while offset + HEADER <= len(data):
        if BLOCK - offset % BLOCK < HEADER:  # a block's tail too short for a header is padding
            offset += BLOCK - offset % BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[offset:offset + HEADER])
        if kind == 0 and length == 0:
            break
        chunk, offset = data[offset + HEADER:offset + HEADER + length], offset + HEADER + length
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            found.append(record)
    return found


def _items(items) -> dict[str, Any]:
    return {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items}


def settled_run(path: Path, done: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
    """`offline_run` once `done(run)` holds, read again every 0.2 s for up to `timeout` s: W&B's writer (its
    own service process) may still be appending to the log when `finish()` has returned (seen in CI: a
    file without its `run` record yet)."""
    deadline = time.monotonic() + timeout
    while True:
        run = offline_run(path)
        if done(run) or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def offline_run(path: Path) -> dict[str, Any]:
    """The run (group, job type, name, project), its config, its history rows and its final summary."""
    run: dict[str, Any] = {"config": {}, "history": [], "summary": {}}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.update(group=record.run.run_group, job_type=record.run.job_type, name=record.run.display_name,
                       project=record.run.project)
            run["config"].update(_items(record.run.config.update))
        elif kind == "config":
            run["config"].update(_items(record.config.update))
        elif kind == "history":
            run["history"].append(_items(record.history.item))
        elif kind == "summary":
            run["summary"].update(_items(record.summary.update))
    return run
