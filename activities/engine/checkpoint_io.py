"""Checkpoints that cannot be torn: a Lightning `CheckpointIO` that writes each checkpoint to a temporary
name, records its sha256 in `<name>.sha256` beside it, then renames it into place; and refuses to load a
checkpoint whose bytes do not match the recorded digest.

A crash mid-write leaves only a `.tmp` file (never picked for resuming); a truncated or altered file is
found by its digest, and resuming falls back to the newest checkpoint that verifies.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins import TorchCheckpointIO

from activities.engine.checkpoint_files import TMP_SUFFIX, digest_path, verify_checkpoint
from activities.shared_storage import storage


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class ChecksummedCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO with write-then-rename and a sha256 sidecar per checkpoint."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        """Serialise in memory, write `<name>.tmp` in the checkpoint's own folder, fsync, write the digest,
        rename. (Lightning's own atomic save stages the file in the system temp folder and copies it
        over, which writes it twice and, on a full disk, reports the temp file's name.) A failed write
        removes its temp file and names the checkpoint; earlier checkpoints are untouched."""
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        path = Path(path)
        tmp = path.with_name(path.name + TMP_SUFFIX)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        data = buffer.getbuffer()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            _write_atomically(digest_path(path), f"{hashlib.sha256(data).hexdigest()}  {path.name}\n".encode())
            os.replace(tmp, path)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise OSError(error.errno, error.strerror, str(path)) from error
        storage().push_checkpoint(path)  # shared storage (storage.uri), when set

    def load_checkpoint(self, path, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        verify_checkpoint(Path(path))
        if map_location is None:
            return super().load_checkpoint(path, weights_only=weights_only)
        return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)

    def remove_checkpoint(self, path) -> None:
        super().remove_checkpoint(path)
        digest_path(Path(path)).unlink(missing_ok=True)
        storage().remove_checkpoint(Path(path))
