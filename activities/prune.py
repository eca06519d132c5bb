"""prune_checkpoints: delete the checkpoints of sweep trials that can no longer be promoted."""

from __future__ import annotations

from pathlib import Path

from temporalio import activity

from activities.checkpoints import prune_checkpoint_files
from activities.errors import non_retryable
from workflows.payloads.errors import ConfigError
from workflows.payloads.messages import PruneRequest


@activity.defn
def prune_checkpoints(request: PruneRequest) -> int:
    """Delete `*.ckpt` in each folder of `request.folders` (all inside `request.root`); idempotent, so a
    retry after a crash finishes the job. Returns how many files went."""
    try:
        return sum(prune_checkpoint_files(Path(folder), Path(request.root)) for folder in request.folders)
    except ConfigError as error:
        raise non_retryable(error) from error
