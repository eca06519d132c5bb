"""What a worker may write, delete and read, decided by the worker's own config, never by its input.

Anyone who can reach the Temporal server can start a workflow with a hand-made input. So a worker checks
every activity input against its `Confinement` before the activity runs (`ConfinementInterceptor`,
in `activities.confinement_interceptor`, installed by `runner.worker.running_workers`):

- every `run_root` an input carries is the worker's own (`train-tune worker run_root=...`, or the
  runner's for its embedded workers); every worker of a cluster is started with the same run_root;
- what it writes or deletes lies inside its run_root: checkpoints (and prune targets) under
  `checkpoints/`, dataset snapshots under `snapshots/`, sweep archives under `sweeps/`, the TensorBoard
  or W&B folder (`logger.save_dir`) and an MLflow SQLite file anywhere inside it;
- what it reads as input (dataset files and folders, local model and tokenizer folders) lies inside its
  run_root, a folder it was started with (`data_dirs`; the runner gives its embedded workers the files and
  folders of the runs it resolved), or an installed package (site-packages: packaged datasets and models;
  and train-tune's own `data/`, the datasets its source ships).
  Several runners may share one embedded server (and so each other's workers): each records what it
  resolved in `${run_root}/.granted/` (`grant_reads`), which the embedded workers (`grants=True`) honour
  too, so a run's snapshot succeeds whichever runner's worker takes it, and `status` / `rerun` can finish a
  run later. Only the run_root's owner can write there (it is 0700) and no activity may (`writable`
  refuses it); a `train-tune worker` honours only its own config.

A refused input fails its activity non-retryably with one line naming the key, the path and the rule. An
activity whose input type has no rule here is refused too (`RULES`), so a new activity cannot slip past.

Files the project writes are owner-only: `activities.private_files`.
"""

from __future__ import annotations

import hashlib
import json
import os
import site
import sysconfig
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activities.paths import SHIPPED_DATA
from activities.private_files import make_private_dir
from workflows.layout import CHECKPOINTS, SNAPSHOTS, SWEEPS
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import (
    CopyCheckpointRequest,
    EvaluateRequest,
    PredictRequest,
    PruneRequest,
    SnapshotRequest,
    SuggestRequest,
    TrainRequest,
)
from workflows.payloads.records import ArchiveRequest, LoadRequest
from workflows.payloads.specs import DatasetSpec, LoggerSpec, ModelSpec


def package_roots() -> tuple[Path, ...]:
    """Where installed packages live (site-packages of this Python and of the user): packaged datasets and
    models are read from there; and the datasets shipped in train-tune's source (`SHIPPED_DATA`)."""
    paths = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")} | {str(SHIPPED_DATA)}
    paths.update(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        paths.add(site.getusersitepackages())
    return tuple(sorted({Path(p).resolve() for p in paths}))


GRANTS = ".granted"
"""Folder of the run root where its runners record what their embedded workers may read."""


def grant_reads(run_root: str | Path, paths: Iterable[str | Path]) -> None:
    """Record `paths` (files or folders a runner resolved) as readable by the embedded workers of
    `run_root`: one owner-only file per distinct set, kept (a later `status` or `rerun` needs them too)."""
    resolved = sorted({str(Path(p).expanduser().resolve()) for p in paths if p})
    if not resolved:
        return
    folder = make_private_dir(Path(run_root) / GRANTS)
    name = hashlib.sha256(json.dumps(resolved).encode()).hexdigest()[:16]
    target = folder / f"{name}.json"
    if not target.is_file():
        tmp = folder / f".{name}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(resolved))
        os.replace(tmp, target)


def granted_reads(run_root: Path) -> list[Path]:
    """What the runners of `run_root` granted (unreadable or malformed grant files count for nothing)."""
    found: list[Path] = []
    for file in sorted((run_root / GRANTS).glob("*.json")):
        try:
            paths = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(paths, list):
            found += [Path(p) for p in paths if isinstance(p, str) and Path(p).is_absolute()]
    return found


def looks_local(name: str) -> bool:
    """What `from_pretrained` / `load_dataset` would open as a local path rather than a hub name."""
    return name.startswith(("/", ".", "~")) or Path(name).expanduser().exists()


@dataclass(frozen=True)
class Confinement:
    """A worker's limits: its run root, and what else it may read.

    Attributes:
        run_root: The worker's own run root (resolved): the root of everything it writes or deletes.
        readable: Further folders (everything inside them) or single files it may read inputs from.
        packages: Folders of installed packages (site-packages), readable too.
    """

    run_root: Path
    readable: tuple[Path, ...] = ()
    packages: tuple[Path, ...] = field(default_factory=package_roots)
    grants: bool = False
    """Also read what the runners of this run_root recorded in `.granted/` (the embedded workers)."""

    @classmethod
    def of(cls, run_root: str | Path, readable: Iterable[str | Path] = (), grants: bool = False) -> Confinement:
        """The confinement of a worker started with `run_root` and the folders or files `readable`."""
        return cls(run_root=Path(run_root).expanduser().resolve(),
                   readable=tuple(dict.fromkeys(Path(p).expanduser().resolve() for p in readable if p)),
                   grants=grants)

    # rules ------------------------------------------------------------------------------------------
    def own_run_root(self, key: str, value: str) -> None:
        """`value` (an input's run_root) must be this worker's run root."""
        if Path(value).expanduser().resolve() != self.run_root:
            raise ConfigError(f"{key} is '{value}', but this worker's run_root is '{self.run_root}': a worker writes "
                              f"only under its own run_root (start every worker of a cluster with the same run_root)")

    def writable(self, key: str, value: str, under: str = "") -> Path:
        """`value` resolved, if it lies inside the run root's folder `under` (the run root itself when empty)."""
        base = (self.run_root / under).resolve() if under else self.run_root
        resolved = Path(value).expanduser().resolve()
        if resolved == base or not resolved.is_relative_to(base):
            raise ConfigError(f"{key} is '{value}', which lies outside '{base}': a worker writes, reads back and "
                              f"deletes only inside {'its run_root' if not under else f'{under}/ of its run_root'}")
        if resolved.is_relative_to(self.run_root / GRANTS):
            raise ConfigError(f"{key} is '{value}', but {GRANTS}/ of the run_root holds what its owner allowed to "
                              f"be read; no activity writes there")
        return resolved

    def check_read(self, key: str, value: str) -> None:
        """`value` (a local input) must lie in the run root, a readable folder or file, or a package folder."""
        resolved = Path(value).expanduser().resolve()
        roots = (self.run_root, *self.packages)
        granted = granted_reads(self.run_root) if self.grants else ()
        if any(resolved.is_relative_to(root) for root in roots) or any(
                resolved == path or resolved.is_relative_to(path) for path in (*self.readable, *granted)):
            return
        allowed = ", ".join(f"'{p}'" for p in self.readable) or "none"
        raise ConfigError(f"{key} is '{value}', which lies outside what this worker may read: its run_root "
                          f"'{self.run_root}', its data_dirs ({allowed}) and installed packages; start the worker "
                          f"with data_dirs=[FOLDER] (a folder holding it) to allow it")

    # inputs -----------------------------------------------------------------------------------------
    def check_model(self, model: ModelSpec) -> None:
        for key in ("name_or_path", "tokenizer"):
            value = getattr(model, key)
            if value and looks_local(value):
                self.check_read(f"model.{key}", value)

    def check_dataset(self, dataset: DatasetSpec) -> None:
        for split, name in sorted(dataset.data_files.items()):
            if name:
                self.check_read(f"dataset.data_files.{split}", name)
        if dataset.path and (dataset.source != "hub" or looks_local(dataset.path)):
            self.check_read("dataset.path", dataset.path)

    def check_logger(self, logger: LoggerSpec) -> None:
        if logger.save_dir:
            self.writable("logger.save_dir", logger.save_dir)
        if logger.tracking_uri.startswith("sqlite:///"):
            self.writable("logger.tracking_uri", logger.tracking_uri[len("sqlite:///"):])

    def check(self, request: Any) -> None:
        """Raise ConfigError if `request` (an activity's input) asks for anything outside these limits."""
        rule = RULES.get(type(request))
        if rule is None:
            raise ConfigError(f"an activity input of type {type(request).__name__} has no confinement rule, so this "
                              f"worker refuses it")
        rule(self, request)


def _snapshot(c: Confinement, r: SnapshotRequest) -> None:
    c.own_run_root("SnapshotRequest.run_root", r.run_root)
    c.check_dataset(r.dataset)
    if r.tokenizer and looks_local(r.tokenizer):
        c.check_read("model.tokenizer", r.tokenizer)


def _train(c: Confinement, r: TrainRequest) -> None:
    if r.run_root:
        c.own_run_root("TrainRequest.run_root", r.run_root)
    c.writable("checkpoint_dir", r.checkpoint_dir, CHECKPOINTS)
    c.writable("snapshot.uri", r.snapshot.uri, SNAPSHOTS)
    c.check_logger(r.logger)
    c.check_model(r.model)


def _score(c: Confinement, r: EvaluateRequest | PredictRequest) -> None:
    c.writable("checkpoint", r.checkpoint, CHECKPOINTS)
    c.writable("snapshot.uri", r.snapshot.uri, SNAPSHOTS)
    c.check_model(r.model)


def _archive(c: Confinement, r: ArchiveRequest | LoadRequest) -> None:
    c.own_run_root(f"{type(r).__name__}.run_root", r.run_root)
    c.writable("sweep archive folder", r.folder, SWEEPS)


def _prune(c: Confinement, r: PruneRequest) -> None:
    c.writable("PruneRequest.root", r.root, CHECKPOINTS)
    for folder in r.folders:
        c.writable("prune folder", folder, CHECKPOINTS)


def _copy(c: Confinement, r: CopyCheckpointRequest) -> None:
    c.own_run_root("CopyCheckpointRequest.run_root", r.run_root)
    c.writable("CopyCheckpointRequest.source_dir", r.source_dir, CHECKPOINTS)
    c.writable("CopyCheckpointRequest.target_dir", r.target_dir, CHECKPOINTS)


RULES: dict[type, Callable[[Confinement, Any], None]] = {
    SnapshotRequest: _snapshot,
    TrainRequest: _train,
    EvaluateRequest: _score,
    PredictRequest: _score,
    ArchiveRequest: _archive,
    LoadRequest: _archive,
    PruneRequest: _prune,
    CopyCheckpointRequest: _copy,
    SuggestRequest: lambda c, r: None,  # numbers only: no path
}
"""The rule for each activity input type; an input of any other type is refused."""
