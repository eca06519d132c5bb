"""Quiet by default: the terminal gets the run's progress, results and where files went; every log line
(Temporal's Python and Rust logs, Lightning, transformers, datasets, Python warnings) goes to the run's
log file, Hydra's `train-tune.log` in the output folder. `verbose=true` (or `-v`) shows them too."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

CORE_LOGGER = "temporalio.core"
"""The Python logger the Temporal Rust core's log lines are forwarded to (else it prints them itself)."""
LIBRARY_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "transformers", "datasets")
"""Libraries that print through a console handler of their own instead of the root logger's."""

OWN_LOGGERS = ("activities", "runner", "workflows", "hydra_plugins")
"""train-tune's own loggers: their warnings are about the user's config or data, so the terminal shows them."""

LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"
"""Hydra's job log format, for a log file opened here (a multirun's, whose launcher has no job logging)."""


def route_logs(verbose: bool, log_path: Path | None = None) -> None:
    """Send log lines and warnings to the root logger's handlers; without `verbose`, only to its files
    (Hydra's console handler is removed). `log_path`: a file to log to when the root logger has none.
    Call it before the first Temporal client is made."""
    root = logging.getLogger()
    if log_path is not None and log_file() is None:
        file = logging.FileHandler(log_path)
        file.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(file)
        root.setLevel(min(root.level, logging.INFO) or logging.INFO)
    logging.captureWarnings(True)  # warnings.warn (Lightning's, torch's) become records of `py.warnings`
    forward_core_logs()
    if not verbose:
        for handler in [h for h in root.handlers if _is_console(h)]:
            root.removeHandler(handler)
        root.addHandler(own_warnings())
    adopt_library_loggers()


def own_warnings() -> logging.Handler:
    """A stderr handler for train-tune's own warnings (e.g. a model head re-sized for the dataset's labels),
    one plain line each; the libraries' warnings stay in the log file."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.addFilter(lambda record: record.name.split(".")[0] in OWN_LOGGERS)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    return handler


def forward_core_logs() -> None:
    """The Rust core logs through Python logging (not straight to stderr, with colour codes)."""
    with contextlib.suppress(RuntimeError):  # a runtime exists already (a test process): it keeps its settings
        Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="WARN"),
            forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER))))), error_if_already_set=True)


def adopt_library_loggers() -> None:
    """Libraries imported so far that print through handlers of their own log through the root logger
    instead; call again after importing more (`runner.worker` does, once it loaded the training libraries)."""
    for name in LIBRARY_LOGGERS:
        if name.split(".")[0] not in sys.modules:
            continue
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if _is_console(h)]:
            logger.removeHandler(handler)
        logger.propagate = True


def log_file() -> Path | None:
    """The file the root logger writes to (Hydra's `train-tune.log`), if any."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename)
    return None


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler) \
        and getattr(handler, "stream", None) in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
