"""Decisions remembered per caller token for the token's lifetime, bounded in size.

Keyed by a hash of the caller's token and the request, so one user's decisions are never
served to another, and an entry is dropped when its token expires. Lookups hand out the
future of a decision still being fetched too, so concurrent identical asks share one round
trip.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["DecisionCache", "token_key"]


def token_key(token: str) -> bytes:
    """What the cache keeps of a token: its SHA-256 (never the token itself)."""
    return hashlib.sha256(token.encode()).digest()


@dataclass
class _Entry:
    expires_at: datetime
    value: asyncio.Future[Any]


class DecisionCache:
    """An LRU map of (token hash, request) to a decision's future, with per-entry expiry."""

    def __init__(
        self, *, max_entries: int, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> asyncio.Future[Any] | None:
        """The cached (or in-flight) decision, None when missing or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[key]
            return None
        value = entry.value
        if value.done() and (value.cancelled() or value.exception() is not None):
            del self._entries[key]  # a failed fetch is asked again, never remembered
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: Hashable, value: asyncio.Future[Any], expires_at: datetime) -> None:
        """Remember a decision (or its future) until `expires_at`."""
        if expires_at <= self._clock():
            return
        self._entries[key] = _Entry(expires_at, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
