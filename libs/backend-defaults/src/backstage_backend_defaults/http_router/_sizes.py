"""Byte sizes in config: a number of bytes, or a string such as `'10mb'` or `'1kb'`."""

from __future__ import annotations

import re

from backstage_backend_plugin_api import RootConfigService
from backstage_common.config import ConfigError

__all__ = ["read_size"]

_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|mb|gb)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def read_size(config: RootConfigService, key: str, default: int) -> int:
    """The size at `key` in bytes, or `default` when it is not set."""
    value = config.get_optional(key)
    if value is None:
        return default
    match = _SIZE.match(str(value)) if not isinstance(value, bool) else None
    if match is None:
        raise ConfigError(f"Invalid value '{value}' for '{key}', use bytes or e.g. '10mb'")
    return int(match.group(1)) * _UNITS[(match.group(2) or "b").lower()]
