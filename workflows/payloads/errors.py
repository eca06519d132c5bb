"""The error a worker raises on bad input. It crosses the Temporal boundary as an `ApplicationError` of type
`names.CONFIG_ERROR` (`activities.errors.non_retryable`), and the runner raises it too, before any server starts."""


class ConfigError(ValueError):
    """Bad input: names the key, the value and what would be valid. Never retried."""
