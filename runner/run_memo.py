"""A run's workflow memo, kept small: the resolved config lives in a file, the memo holds its path and hash.

Temporal warns (TMPRL1103) past 2 KB of memo, and a resolved config alone is ~2.5 KB (a sweep's identity
and a multirun's job list grow with the run). So the large entries (`config`, a sweep's `identity`, a
multirun's `jobs`) go to `${run_root}/configs/<sha256>.json`, written once (content-addressed), and the memo
keeps `config_file` and `config_sha256`. Readers call `full_memo`, which puts the entries back; a memo
recorded before this (with the entries inline) reads as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Memo
from temporalio.converter import DataConverter

STORED_KEYS = ("config", "identity", "jobs")
"""The memo entries that grow with the config or the run: stored in the config file, not the memo."""
CONFIG_DIR = "configs"
MEMO_WARNING_BYTES = 2048
"""Temporal's memo size warning limit (TMPRL1103); `memo_bytes` of every memo train-tune writes stays below."""


class StoredConfigMissing(LookupError):
    """The run's config file (named by its memo) cannot be read here (exit code 1)."""

    exit_code = 1


def compact_memo(memo: dict[str, Any], run_root: str | Path) -> dict[str, Any]:
    """`memo` with its large entries moved to a config file under `run_root` (path and sha256 kept)."""
    stored = {key: memo[key] for key in STORED_KEYS if key in memo}
    if not stored:
        return dict(memo)
    text = json.dumps(stored, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()
    folder = Path(run_root).expanduser().resolve() / CONFIG_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:32]}.json"
    if not path.exists():  # content-addressed: an existing file holds these bytes already
        temp = folder / f".{digest[:32]}.{os.getpid()}.tmp"
        temp.write_text(text)
        os.replace(temp, path)
    small = {key: value for key, value in memo.items() if key not in STORED_KEYS}
    return {**small, "config_file": str(path), "config_sha256": digest}


def full_memo(memo: dict[str, Any]) -> dict[str, Any]:
    """The memo with its stored entries read back from its config file (a memo holding them inline, as
    runs recorded before the file existed do, is returned as it is). A missing or changed file leaves
    them out; `memo_config` then says so in one line."""
    path = memo.get("config_file")
    if not path or any(key in memo for key in STORED_KEYS):
        return memo
    try:
        text = Path(path).read_text()
    except OSError:
        return memo
    if hashlib.sha256(text.encode()).hexdigest() != memo.get("config_sha256"):
        return memo
    return {**memo, **json.loads(text)}


def memo_config(memo: dict[str, Any]) -> dict[str, Any]:
    """The resolved config of a run's (full) memo; StoredConfigMissing when its file could not be read."""
    if "config" in memo:
        return memo["config"]
    path = memo.get("config_file")
    if path:
        raise StoredConfigMissing(f"the run's config file {path} is missing or changed (sha256 "
                                  f"{str(memo.get('config_sha256'))[:12]}); run the command where its run_root is")
    raise StoredConfigMissing("the run's memo records no config")


def memo_bytes(memo: dict[str, Any]) -> int:
    """The memo's size as Temporal counts it: the encoded `Memo` message of its values' payloads."""
    converter = DataConverter.default.payload_converter
    return Memo(fields={key: converter.to_payloads([value])[0] for key, value in memo.items()}).ByteSize()


def single_memo(plain: dict[str, Any], config_hash: str, labels: dict[str, Any], run_root: str) -> dict[str, Any]:
    """A single run's memo (`runner.submit.start_run`)."""
    return compact_memo({"kind": "single", "config": plain, "config_hash": config_hash, **labels}, run_root)


def coordinator_memo(jobs: list[Any], parallelism: int, output_dir: str, labels: dict[str, Any]) -> dict[str, Any]:
    """A multirun's memo (`runner.coordinate.start_coordinator`): its jobs' overrides and hashes go to the file."""
    return compact_memo({
        "kind": "coordinator", "output_dir": output_dir, "parallelism": parallelism,
        "jobs": [{"index": j.index, "overrides": j.overrides, "config_hash": j.run.config_hash} for j in jobs],
        **labels,
    }, jobs[0].run.run_root)


def sweep_memo(name: str, identity: dict[str, Any], plain: dict[str, Any], config_hash: str, parallelism: int,
               output_dir: str, labels: dict[str, Any], run_root: str) -> dict[str, Any]:
    """A sweep's memo (`runner.sweep_session`): its identity (what `existing_sweeps` compares) goes to the file."""
    return compact_memo({"kind": "ladder_sweep", "name": name, "identity": identity, "config": plain,
                         "config_hash": config_hash, "parallelism": parallelism, "output_dir": output_dir,
                         **labels}, run_root)
