"""core.cache: each plugin's own namespace in the configured cache store."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol, TypeAlias

__all__ = ["CacheService", "JsonValue"]

JsonValue: TypeAlias = dict[str, "JsonValue"] | list["JsonValue"] | str | int | float | bool | None


class CacheService(Protocol):
    """A key/value cache namespaced by plugin id; a store outage reads as a miss."""

    async def get(self, key: str) -> JsonValue | None:
        """The value, or None when missing or expired."""
        ...

    async def set(
        self, key: str, value: JsonValue, *, ttl: timedelta | float | None = None
    ) -> None:
        """Store a JSON value; `ttl` (a timedelta, or milliseconds) defaults to the client's
        default TTL, or none."""
        ...

    async def delete(self, key: str) -> None: ...

    def with_options(self, *, default_ttl: timedelta | float | None) -> CacheService:
        """The same namespace with another default TTL."""
        ...
