"""Errors: bad input (ConfigError) and the training failures a retry cannot mend, each turned into a
non-retryable Temporal ApplicationError with a clear reason; anything else is retried by Temporal."""

from __future__ import annotations

import errno

from temporalio.exceptions import ApplicationError

from workflows.payloads.errors import ConfigError
from workflows.payloads.names import CONFIG_ERROR


def non_retryable(error: ConfigError) -> ApplicationError:
    """Wrap a ConfigError so Temporal fails the activity at once instead of retrying it."""
    return ApplicationError(str(error), type=CONFIG_ERROR, non_retryable=True)


class TrainingDiverged(RuntimeError):
    """The training loss stopped being finite (NaN or inf)."""


STORAGE_ERRNOS = {errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EDQUOT}
"""Storage failures where retrying the same write fails the same way."""


def final_failure(error: BaseException, batch_size: int | None = None) -> ApplicationError | None:
    """The non-retryable ApplicationError for a training failure a retry cannot mend (bad input, a
    diverged loss, out of memory, storage that cannot be written), or None: retry."""
    if isinstance(error, ConfigError):
        return non_retryable(error)
    if isinstance(error, TrainingDiverged):
        return ApplicationError(f"{error}; lower optim.lr or keep trainer.gradient_clip_val on",
                                type="TrainingDiverged", non_retryable=True)
    text = str(error)
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError" or (
            isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)):
        hint = f" at trainer.batch_size={batch_size}" if batch_size else ""
        detail = text.splitlines()[0].split("DefaultCPUAllocator: ")[-1] if text else ""
        return ApplicationError(f"out of memory{hint}: {detail}; "
                                f"lower trainer.batch_size or dataset.max_length", type="OutOfMemory",
                                non_retryable=True)
    if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
        where = f" '{error.filename}'" if error.filename else ""
        return ApplicationError(f"cannot write{where}: {error.strerror}; free space or fix the permissions of "
                                f"run_root", type="StorageError", non_retryable=True)
    return None
