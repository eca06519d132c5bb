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
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from itertools import chain
from pathlib import Path

from temporalio import activity

from activities.data_sources import RawSplit, load_splits, source_fingerprint
from activities.encode import encode, strata
from activities.errors import non_retryable
from activities.models import load_tokenizer, tokenizer_fingerprint
from activities.ner.align import TRUNCATED
from activities.shared_storage import storage
from activities.snapshot_files import META_FILE, build_lock, damage, discard, write_digests
from activities.spilled_texts import subset
from activities.splits import CARVED, stratified_indices
from workflows.layout import SNAPSHOTS
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import DatasetSnapshot, SnapshotRequest
from workflows.payloads.specs import DatasetSpec, TaskSpec, task_identity

SNAPSHOT_FORMAT = 2
"""2: splits carved by label (stratified), labels read by activities.labels' rules."""


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
        "encoding": spec.encoding,
        "on_empty_text": spec.on_empty_text,
    }
    if spec.task != TaskSpec() or spec.text_pair_column:  # only then: snapshots from before tasks keep their ids
        settings["task"] = task_identity(asdict(spec.task))
        settings["text_pair_column"] = spec.text_pair_column
    if spec.truncation_side != "right":  # only when set, so the snapshots made before the key keep their ids
        settings["truncation_side"] = spec.truncation_side
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]


def _split(raw: dict[str, RawSplit], spec: DatasetSpec) -> dict[str, RawSplit]:
    """Carve missing validation/test splits out of train, stratified by label (`activities.splits`)."""
    train = raw["train"]
    fractions = {"test": spec.test_fraction, "validation": spec.validation_fraction}
    carved = stratified_indices(strata(train.labels, spec.task.name),
                                {s: fractions[s] for s in CARVED if s not in raw}, spec.split_seed)
    out = dict(raw)
    for split, carved_indices in carved.items():
        indices = carved_indices[: spec.max_samples] if split == "train" and spec.max_samples else carved_indices
        out[split] = RawSplit(subset(train.texts, indices), [train.labels[i] for i in indices],
                              None if train.pairs is None else subset(train.pairs, indices))
    return out


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


def _reusable(folder: Path) -> DatasetSnapshot | None:
    """The complete, undamaged snapshot in `folder`, or None (a damaged one is discarded, with a warning)."""
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        return None
    why = damage(folder, META_FILE)
    if why:
        (activity.logger if activity.in_activity() else log).warning(
            "dataset snapshot %s is damaged (%s): rebuilding it", folder, why)
        discard(folder)
        return None
    meta = json.loads(meta_path.read_text())
    snapshot = DatasetSnapshot(**{**meta, "task": TaskSpec(**meta.get("task", {}))})
    snapshot.reused = True
    return snapshot


def _waiting() -> None:
    if activity.in_activity():
        activity.heartbeat({"waiting": "another worker is making this snapshot"})


def build_snapshot(request: SnapshotRequest) -> DatasetSnapshot:
    """Create (or find) the snapshot folder for this request; safe to call from several workers.

    A snapshot is reused only while its files match their recorded digests; one process at a time builds
    a given snapshot (the others wait, then reuse it), and temp folders of builds that died are removed.
    """
    spec = request.dataset
    sid = snapshot_id(spec, request.tokenizer)
    folder = Path(request.run_root) / SNAPSHOTS / sid
    found = _reusable(folder)
    if found:
        return found
    with build_lock(folder.parent, sid, _waiting):
        storage().fetch_tree(folder, complete_marker=META_FILE)  # made by another machine (storage.uri)
        found = _reusable(folder)
        if found:
            return found
        snapshot = _build(request, sid, folder)
    storage().push_tree(folder, last=META_FILE)
    return snapshot


def _write_split(tmp: Path, split: str, data: RawSplit, encoder: Callable[..., dict[str, list]]) -> tuple[int, int]:
    """Tokenise one split chunk by chunk into `tmp/split` (a `save_to_disk` folder); returns its rows and
    the words max_length cut (token_classification).

    Each chunk's columns go straight to an Arrow file (the same column types as `Dataset.from_dict`
    gives), so memory holds one chunk's tokens, not the split's; the file is then memory-mapped and saved.
    """
    import datasets
    from datasets.arrow_writer import ArrowWriter

    scratch = tmp / f".{split}.arrow"
    tmp.mkdir(parents=True, exist_ok=True)
    truncated = 0
    with ArrowWriter(path=str(scratch)) as writer:
        for start in range(0, len(data.texts), TOKENISE_CHUNK):
            end = start + TOKENISE_CHUNK
            chunk = encoder(data.texts[start:end], None if data.pairs is None else data.pairs[start:end],
                            data.labels[start:end])
            truncated += sum(chunk.pop(TRUNCATED, []))  # token_classification: words cut by max_length
            writer.write_batch(chunk)
            _report(split, min(end, len(data.texts)), len(data.texts))
        writer.finalize()
    table = datasets.Dataset.from_file(str(scratch))
    table.save_to_disk(str(tmp / split))
    rows = len(table)
    del table
    scratch.unlink()  # before the digests: it is not part of the snapshot
    return rows, truncated


def _build(request: SnapshotRequest, sid: str, folder: Path) -> DatasetSnapshot:
    """Read, split and tokenise the dataset into a temp folder, then rename it into place; the texts read
    wait in a spill folder beside it (`activities.spilled_texts`), removed at the end (or, after a build
    that died, by the next builder: `snapshot_files.remove_stale_temps`)."""
    spill = folder.parent / f".{sid}.{uuid.uuid4().hex}.texts"
    spill.mkdir(parents=True)
    try:
        return _tokenise(request, sid, folder, spill)
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _tokenise(request: SnapshotRequest, sid: str, folder: Path, spill: Path) -> DatasetSnapshot:
    import datasets  # slow to import, only to build: the runner and the workflow sandbox import this module

    spec = request.dataset
    datasets.disable_progress_bars()
    intake = load_splits(spec, spill)
    splits = _split(intake.splits, spec)
    names = intake.label_names
    index = {name: i for i, name in enumerate(names)}
    tokenizer = load_tokenizer(request.tokenizer)
    tokenizer.truncation_side = spec.truncation_side
    tmp = folder.parent / f".{sid}.{uuid.uuid4().hex}"
    sizes: dict[str, int] = {}
    counts: dict[str, dict[str, int]] = {}
    truncated: dict[str, int] = {}
    tagged = spec.task.name == "token_classification"
    for split, data in splits.items():
        if not data.texts:
            raise ConfigError(f"dataset '{spec.name}' split {split} is empty; add examples or lower the fractions")
        sizes[split], truncated[split] = _write_split(tmp, split, data, lambda texts, pairs, labels: encode(
            tokenizer, texts, pairs, labels, spec, index, intake.label_stats))
        if spec.task.name != "regression":
            # multi_label: rows holding each label; token_classification: words per tag
            tally = Counter(n for row in data.labels for n in row) if spec.task.name == "multi_label" else \
                Counter(chain.from_iterable(data.labels) if tagged else data.labels)
            counts[split] = {name: tally[name] for name in names}
    snapshot = DatasetSnapshot(
        id=sid,
        uri=str(folder),
        label_names=names,
        split_sizes=sizes,
        pad_token_id=int(tokenizer.pad_token_id or 0),
        max_length=spec.max_length,
        class_counts=counts,
        task=spec.task,
        label_stats=dict(intake.label_stats),
        truncation_side=spec.truncation_side,
        truncated_words={split: n for split, n in truncated.items() if n},
    )
    if snapshot.truncated_words:
        (activity.logger if activity.in_activity() else log).warning(
            "dataset %s: words left without a sub-token by dataset.max_length %d (cut off, or empty once "
            "tokenised), so without a tag: %s", spec.name, spec.max_length, snapshot.truncated_words)
    write_digests(tmp, META_FILE)
    (tmp / META_FILE).write_text(json.dumps(asdict(snapshot), indent=2))
    os.rename(tmp, folder)  # atomic: readers see a whole snapshot or none (the lock keeps builders apart)
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
