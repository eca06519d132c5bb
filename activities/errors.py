"""The error raised for bad input, everywhere in train-tune."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

CONFIG_ERROR_TYPE = "ConfigError"


class ConfigError(ValueError):
    """Bad input: names the key, the value and what would be valid. Never retried."""


def non_retryable(error: ConfigError) -> ApplicationError:
    """Wrap a ConfigError so Temporal fails the activity at once instead of retrying it."""
    return ApplicationError(str(error), type=CONFIG_ERROR_TYPE, non_retryable=True)
