"""snapshot_dataset: tokenise the splits once into a content-addressed folder and reuse it.

The folder name is a hash of (source file bytes, tokenizer files, max length, split settings), so a second
run with the same inputs finds it and skips the work. Splits are saved as Arrow files, which readers
memory-map instead of copying.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

from temporalio import activity

from activities.data_sources import RawSplit, load_splits, source_fingerprint
from activities.errors import ConfigError, non_retryable
from activities.models import load_tokenizer, tokenizer_fingerprint
from activities.shared_storage import storage
from workflows.messages import DatasetSnapshot, SnapshotRequest
from workflows.specs import DatasetSpec

SNAPSHOT_FORMAT = 1
META_FILE = "snapshot.json"


def snapshot_id(spec: DatasetSpec, tokenizer: str) -> str:
    """Content address of a snapshot: everything that changes its tokens, labels or splits."""
    settings = {
        "format": SNAPSHOT_FORMAT,
        "source": source_fingerprint(spec),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "max_length": spec.max_length,
        "text_column": spec.text_column,
        "label_column": spec.label_column,
        "label_names": list(spec.label_names),
        "validation_fraction": spec.validation_fraction,
        "test_fraction": spec.test_fraction,
        "split_seed": spec.split_seed,
        "max_samples": spec.max_samples,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]


def _split(raw: dict[str, RawSplit], spec: DatasetSpec) -> dict[str, RawSplit]:
    """Carve missing validation/test splits out of train with a seeded permutation."""
    import numpy as np

    train = raw["train"]
    order = np.random.default_rng(spec.split_seed).permutation(len(train.texts)).tolist()
    out = dict(raw)
    cursor = 0
    for split, fraction in (("test", spec.test_fraction), ("validation", spec.validation_fraction)):
        if split in raw:
            continue
        n = max(1, int(round(fraction * len(order))))
        picked = order[cursor : cursor + n]
        cursor += n
        out[split] = RawSplit([train.texts[i] for i in picked], [train.labels[i] for i in picked])
    rest = order[cursor:]
    if spec.max_samples:
        rest = rest[: spec.max_samples]
    out["train"] = RawSplit([train.texts[i] for i in rest], [train.labels[i] for i in rest])
    return out


def _label_names(splits: dict[str, RawSplit], spec: DatasetSpec) -> list[str]:
    if spec.label_names:
        names = [str(n) for n in spec.label_names]
    else:
        seen = set(splits["train"].labels)
        names = sorted(seen, key=lambda v: (0, int(v)) if v.lstrip("-").isdigit() else (1, v))
    if len(names) < 2:
        raise ConfigError(
            f"dataset.label_column '{spec.label_column}' has {len(names)} class(es) ({names}); need at least 2"
        )
    for split, data in splits.items():
        unknown = sorted(set(data.labels) - set(names))
        if unknown:
            raise ConfigError(
                f"dataset.label_names is {names}, but split {split} has labels {unknown[:5]} not in it"
            )
    return names


TOKENISE_CHUNK = 5_000
"""Texts tokenised per call; progress is reported after each."""
log = logging.getLogger(__name__)


def _report(split: str, done: int, total: int) -> None:
    """Tokenising progress: a heartbeat (the runner shows it) and a worker log line."""
    if activity.in_activity():
        activity.heartbeat({"split": split, "done": done, "total": total})
        activity.logger.info("tokenised %s: %d/%d texts", split, done, total)
    else:
        log.info("tokenised %s: %d/%d texts", split, done, total)


def build_snapshot(request: SnapshotRequest) -> DatasetSnapshot:
    """Create (or find) the snapshot folder for this request; safe to call from several workers."""
    spec = request.dataset
    sid = snapshot_id(spec, request.tokenizer)
    folder = Path(request.run_root) / "snapshots" / sid
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        storage().fetch_tree(folder, complete_marker=META_FILE)  # made by another machine (storage.uri)
    if meta_path.is_file():
        snapshot = DatasetSnapshot(**json.loads(meta_path.read_text()))
        snapshot.reused = True
        return snapshot

    import datasets

    datasets.disable_progress_bars()
    splits = _split(load_splits(spec), spec)
    names = _label_names(splits, spec)
    index = {name: i for i, name in enumerate(names)}
    tokenizer = load_tokenizer(request.tokenizer)
    tmp = folder.parent / f".{sid}.{uuid.uuid4().hex}"
    sizes: dict[str, int] = {}
    for split, data in splits.items():
        if not data.texts:
            raise ConfigError(f"dataset '{spec.name}' split {split} is empty; add examples or lower the fractions")
        input_ids: list[list[int]] = []
        for start in range(0, len(data.texts), TOKENISE_CHUNK):
            chunk = data.texts[start:start + TOKENISE_CHUNK]
            input_ids += tokenizer(chunk, truncation=True, max_length=spec.max_length)["input_ids"]
            _report(split, len(input_ids), len(data.texts))
        table = datasets.Dataset.from_dict({"input_ids": input_ids, "labels": [index[label] for label in data.labels]})
        table.save_to_disk(str(tmp / split))
        sizes[split] = len(table)
    snapshot = DatasetSnapshot(
        id=sid,
        uri=str(folder),
        label_names=names,
        split_sizes=sizes,
        pad_token_id=int(tokenizer.pad_token_id or 0),
        max_length=spec.max_length,
    )
    (tmp / META_FILE).write_text(json.dumps(asdict(snapshot), indent=2))
    try:
        os.rename(tmp, folder)  # atomic: readers see a whole snapshot or none
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another worker finished the same snapshot first
        if not meta_path.is_file():
            raise
    storage().push_tree(folder, last=META_FILE)
    return snapshot


@activity.defn
def snapshot_dataset(request: SnapshotRequest) -> DatasetSnapshot:
    """Materialise the tokenised train/validation/test splits once; reuse an existing snapshot."""
    try:
        snapshot = build_snapshot(request)
    except ConfigError as error:
        raise non_retryable(error) from error
    state = "reused" if snapshot.reused else "new"
    activity.logger.info("dataset snapshot %s (%s) at %s", snapshot.id, state, snapshot.uri)
    return snapshot
