"""Shared storage for checkpoints, training logs and dataset snapshots, by URI through fsspec.

With `storage.uri` empty (the default) `run_root` itself is the storage: a local folder, or a mount that
every worker shares. With `storage.uri` set (`s3://bucket/prefix`, `gs://...`, `file:///mnt/shared/tt`:
any fsspec URL; S3 needs `pip install -e ".[s3]"`), `run_root` is each machine's local working copy, at
the same path on every machine, and the URI holds the durable copy that all workers share:

- a checkpoint is uploaded as soon as it is saved, then its `.sha256`: a remote checkpoint counts only
  when its digest is there and matches, so an upload cut off by a crash is never resumed from;
- a training attempt first fetches the newest verified checkpoint of its folder, if newer than its own;
- evaluation and prediction fetch the checkpoint they score; the learning-curve plots fetch the logs;
- a dataset snapshot is uploaded once built (its `snapshot.json` last, so a snapshot is complete when
  that is there) and fetched whole by a machine that lacks it (content-addressed: a copy is never stale);
- a segment's CSV logs are uploaded when it ends; pruning deletes remote checkpoints as well.

A process has one storage (`configure_storage`): the runner sets it from the run's config for its
embedded workers, `train-tune worker` from its own (`storage.uri=...`), which must match the runs'.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from activities.engine.checkpoint_files import (
    CHECKPOINT_SUFFIX,
    DIGEST_SUFFIX,
    checkpoint_problem,
    digest_path,
    step_checkpoints,
    step_of_checkpoint,
)
from workflows.payloads.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class SharedStorage:
    """A local root mirrored to `uri`; with an empty `uri` every method is a no-op."""

    uri: str = ""
    local_root: str = ""
    endpoint_url: str = ""

    @property
    def active(self) -> bool:
        return bool(self.uri)

    def _fs(self):
        import fsspec  # only with storage.uri set (and its backends, such as s3fs, are optional)

        options: dict = {"client_kwargs": {"endpoint_url": self.endpoint_url}} if self.endpoint_url else {}
        if self.uri.startswith("file://"):
            options["auto_mkdir"] = True  # a local or mounted folder: uploads create their parent folders
        fs, root = fsspec.core.url_to_fs(self.uri, **options)
        return fs, root.rstrip("/")

    def remote(self, local: Path) -> str:
        """The remote path of a local path under the local root."""
        root = Path(self.local_root).resolve()
        resolved = Path(local).resolve()
        if not resolved.is_relative_to(root):
            raise ConfigError(f"'{local}' is not under this machine's run_root '{root}'; with storage.uri set, every "
                              f"machine must use the same run_root path (its local working copy)")
        _, base = self._fs()
        return f"{base}/{resolved.relative_to(root).as_posix()}"

    # checkpoints -----------------------------------------------------------------------------------
    def push_checkpoint(self, path: Path) -> None:
        """Upload a saved checkpoint, then its digest (the digest marks the upload complete)."""
        if not self.active:
            return
        fs, _ = self._fs()
        digest = digest_path(path)
        fs.put_file(str(path), self.remote(path))
        fs.put_file(str(digest), self.remote(digest))

    def remove_checkpoint(self, path: Path) -> None:
        if not self.active:
            return
        fs, _ = self._fs()
        for target in (digest_path(path), path):
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(self.remote(target))

    def remove_step_checkpoints(self, folder: Path, from_step: int) -> int:
        """Delete the remote step checkpoints of `folder` at global steps >= `from_step`, digests first (a
        checkpoint without its digest is never fetched). Returns how many checkpoints went."""
        if not self.active:
            return 0
        fs, _ = self._fs()
        try:
            names = {Path(p).name for p in fs.ls(self.remote(folder), detail=False)}
        except FileNotFoundError:
            return 0
        doomed = sorted(name for name in names if step_of_checkpoint(Path(name)) >= from_step)
        for name in doomed:
            self.remove_checkpoint(folder / name)
        return len(doomed)

    def fetch_newest_checkpoint(self, folder: Path) -> list[str]:
        """Download the newest remote step checkpoint of `folder` whose digest matches, when it is newer
        than the newest local one. Returns the remote checkpoints passed over (no digest yet, or a
        mismatch), each with its reason."""
        if not self.active:
            return []
        fs, _ = self._fs()
        remote_folder = self.remote(folder)
        try:
            names = sorted((Path(p).name for p in fs.ls(remote_folder, detail=False)), reverse=True)
        except FileNotFoundError:
            return []
        local_newest = next((step for step, path in step_checkpoints(folder) if not checkpoint_problem(path)), -1)
        skipped: list[str] = []
        for name in names:
            step = step_of_checkpoint(Path(name))
            if step < 0 or step <= local_newest:
                continue
            if f"{name}{DIGEST_SUFFIX}" not in names:
                skipped.append(f"remote {name}: no checksum file (upload cut off)")
                continue
            problem = self._download_checkpoint(folder / name)
            if not problem:
                return skipped
            skipped.append(f"remote {name}: {problem}")
        return skipped

    def fetch_checkpoint(self, path: Path) -> None:
        """Make a checkpoint local (evaluation, prediction) unless a verified copy is already here."""
        if not self.active or not checkpoint_problem(path):
            return
        fs, _ = self._fs()
        if fs.exists(self.remote(path)):
            self._download_checkpoint(path)

    def _download_checkpoint(self, path: Path) -> str:
        """Download checkpoint + digest into `path`'s folder (via temp names); '' if it verifies."""
        fs, _ = self._fs()
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = digest_path(path)
        for target in (path, digest):
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
            fs.get_file(self.remote(target), str(tmp))
            os.replace(tmp, target)
        problem = checkpoint_problem(path)
        if problem:
            path.unlink(missing_ok=True)
            digest.unlink(missing_ok=True)
        else:
            log.info("fetched checkpoint %s from %s", path.name, self.uri)
        return problem

    # single files: sweep archive parts ---------------------------------------------------------------
    def push_file(self, path: Path) -> None:
        if self.active:
            fs, _ = self._fs()
            fs.put_file(str(path), self.remote(path))

    def fetch_file(self, path: Path) -> bool:
        """Download `path` from the remote copy (via a temp name); whether it is here now."""
        if not self.active:
            return path.is_file()
        fs, _ = self._fs()
        if not fs.exists(self.remote(path)):
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        fs.get_file(self.remote(path), str(tmp))
        os.replace(tmp, path)
        return True

    # folders: logs and snapshots -------------------------------------------------------------------
    def push_tree(self, folder: Path, last: str = "") -> None:
        """Upload every file under `folder` (the file named `last` after all others)."""
        if not self.active or not folder.is_dir():
            return
        fs, _ = self._fs()
        files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.name == last)
        for file in files:
            fs.put_file(str(file), self.remote(file))

    def fetch_tree(self, folder: Path, complete_marker: str = "") -> bool:
        """Download the remote copy of `folder` into place (via a temp folder, renamed), unless it is
        already here. With `complete_marker`, only a remote folder holding that file counts. Returns
        whether `folder` is here now."""
        if not self.active or (folder.is_dir() and (not complete_marker or (folder / complete_marker).is_file())):
            return folder.is_dir()
        fs, _ = self._fs()
        remote = self.remote(folder)
        if not fs.exists(f"{remote}/{complete_marker}" if complete_marker else remote):
            return False
        tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}.part")
        for found in fs.find(remote):
            relative = found[len(remote.rstrip("/")) + 1:]
            target = tmp / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(found, str(target))
        try:
            os.rename(tmp, folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process fetched it first
        if folder.is_dir():
            log.info("fetched %s from %s", folder.name, self.uri)
        return folder.is_dir()

    def remove_checkpoints(self, folder: Path) -> int:
        """Delete the remote `*.ckpt` (and digests) of a trial folder (its logs stay)."""
        if not self.active:
            return 0
        fs, _ = self._fs()
        try:
            names = fs.ls(self.remote(folder), detail=False)
        except FileNotFoundError:
            return 0
        doomed = [p for p in names if p.endswith((CHECKPOINT_SUFFIX, CHECKPOINT_SUFFIX + DIGEST_SUFFIX))]
        for path in doomed:
            fs.rm_file(path)
        return sum(p.endswith(CHECKPOINT_SUFFIX) for p in doomed)


_current = SharedStorage()


def configure_storage(uri: str, local_root: str, endpoint_url: str = "") -> SharedStorage:
    """Set this process's storage (an empty `uri`: `run_root` is the storage). Fails at once on a URI
    whose filesystem is unknown or whose package is missing."""
    global _current  # noqa: PLW0603 - one storage per process, set by its command or worker at start
    storage = SharedStorage(uri=uri.rstrip("/"), local_root=local_root, endpoint_url=endpoint_url)
    if storage.active:
        try:
            storage._fs()
        except (ImportError, ValueError) as error:
            raise ConfigError(f"storage.uri is '{uri}', but fsspec cannot open it: {error}; for s3:// "
                              f"pip install -e '.[s3]'") from error
    _current = storage
    return storage


def storage() -> SharedStorage:
    """This process's storage."""
    return _current
