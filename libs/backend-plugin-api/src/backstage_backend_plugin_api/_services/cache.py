"""core.cache: each plugin's own namespace in the configured cache store."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol, TypeAlias

__all__ = ["CacheService", "JsonValue"]

JsonValue: TypeAlias = dict[str, "JsonValue"] | list["JsonValue"] | str | int | float | bool | None
"""A value the cache can hold: anything that survives a JSON round trip."""


class CacheService(Protocol):
    """A key/value cache namespaced by plugin id; a store outage reads as a miss."""

    async def get(self, key: str) -> JsonValue | None:
        """The value, or None when missing or expired (or the store cannot be reached).

        Args:
            key: the key, within the plugin's namespace.
        """
        ...

    async def set(
        self, key: str, value: JsonValue, *, ttl: timedelta | float | None = None
    ) -> None:
        """Store a JSON value.

        Args:
            key: the key, within the plugin's namespace.
            value: the value (see `JsonValue`).
            ttl: how long to keep it, as a timedelta or in milliseconds; None: the
                client's default TTL, or no expiry.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove a key; nothing happens when it is missing.

        Args:
            key: the key, within the plugin's namespace.
        """
        ...

    def with_options(self, *, default_ttl: timedelta | float | None) -> CacheService:
        """The same namespace with another default TTL.

        Args:
            default_ttl: the TTL of values set without one, as a timedelta or in
                milliseconds; None: no expiry.
        """
        ...
