"""The config package's error type."""

from __future__ import annotations

from backstage_common.errors import InputError

__all__ = ["ConfigError"]


class ConfigError(InputError):
    """Configuration is missing, malformed or of the wrong type.

    The message names the key path from the config root and, where known, the file (or
    `env`) that the offending value came from.
    """
