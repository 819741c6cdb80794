"""Stored cache keys: namespaced by plugin, safe for every store (memcached included)."""

from __future__ import annotations

import base64
import hashlib

__all__ = ["stored_key"]

_MAX_ENCODED = 200


def stored_key(prefix: str, key: str) -> str:
    """`<prefix><base64(key)>`, or the base64 of its SHA-256 when that would be too long.

    As in Backstage; it also keeps every key within memcached's 250 bytes and free of the
    spaces and control characters memcached refuses.
    """
    encoded = base64.b64encode(key.encode("utf-8")).decode("ascii")
    if len(encoded) >= _MAX_ENCODED:
        encoded = base64.b64encode(hashlib.sha256(key.encode("utf-8")).digest()).decode("ascii")
    return prefix + encoded
