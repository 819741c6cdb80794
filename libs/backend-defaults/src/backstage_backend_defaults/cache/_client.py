"""A plugin's cache client: JSON values in the plugin's namespace; an outage is a miss."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import timedelta

import msgspec
from backstage_backend_plugin_api import JsonValue, LoggerService
from backstage_common.errors import InputError

from backstage_backend_defaults.cache._keys import stored_key
from backstage_backend_defaults.cache._stores import CacheStore

__all__ = ["CacheClient", "CacheHealth", "to_seconds"]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()
_LOG_EVERY_SECONDS = 30.0


def to_seconds(ttl: timedelta | float | None, *, what: str = "ttl") -> float | None:
    """A TTL as seconds; numbers are milliseconds, as in Backstage."""
    if ttl is None:
        return None
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl) / 1000
    if not math.isfinite(seconds) or seconds <= 0:
        raise InputError(f"Invalid cache {what} {ttl!r}: it must be a positive duration")
    return seconds


@dataclass
class CacheHealth:
    """Store errors seen by every plugin of one backend; logs are rate-limited."""

    store: str
    logger: LoggerService
    errors: int = 0
    _last_logged: float = field(default=-math.inf)

    def failed(self, plugin_id: str, operation: str, error: BaseException) -> None:
        self.errors += 1
        now = time.monotonic()
        if now - self._last_logged >= _LOG_EVERY_SECONDS:
            self._last_logged = now
            self.logger.warn(
                f"Cache {operation} failed on {self.store}; treated as a miss "
                f"({self.errors} cache errors so far)",
                {
                    "plugin": plugin_id,
                    "error": {"name": type(error).__name__, "message": str(error)},
                },
            )


class CacheClient:
    """`CacheService` over the backend's store, keys prefixed by `<namespace><pluginId>:`."""

    __slots__ = ("_default_ttl", "_health", "_plugin_id", "_prefix", "_store")

    def __init__(
        self,
        store: CacheStore,
        *,
        plugin_id: str,
        prefix: str,
        health: CacheHealth,
        default_ttl: float | None,
    ) -> None:
        self._store = store
        self._plugin_id = plugin_id
        self._prefix = prefix
        self._health = health
        self._default_ttl = default_ttl

    async def get(self, key: str) -> JsonValue | None:
        try:
            raw = await self._store.get(stored_key(self._prefix, key))
        except Exception as error:
            self._health.failed(self._plugin_id, "get", error)
            return None
        if raw is None:
            return None
        try:
            value: JsonValue = _decoder.decode(raw)
        except msgspec.DecodeError as error:  # not written by this service: a miss
            self._health.failed(self._plugin_id, "get", error)
            return None
        return value

    async def set(
        self, key: str, value: JsonValue, *, ttl: timedelta | float | None = None
    ) -> None:
        try:
            data = _encoder.encode(value)
        except (TypeError, msgspec.EncodeError) as error:
            raise InputError(f"Cache values must be JSON data: {error}") from error
        seconds = to_seconds(ttl) if ttl is not None else self._default_ttl
        try:
            await self._store.set(stored_key(self._prefix, key), data, seconds)
        except Exception as error:
            self._health.failed(self._plugin_id, "set", error)

    async def delete(self, key: str) -> None:
        try:
            await self._store.delete(stored_key(self._prefix, key))
        except Exception as error:
            self._health.failed(self._plugin_id, "delete", error)

    def with_options(self, *, default_ttl: timedelta | float | None) -> CacheClient:
        return CacheClient(
            self._store,
            plugin_id=self._plugin_id,
            prefix=self._prefix,
            health=self._health,
            default_ttl=to_seconds(default_ttl, what="defaultTtl"),
        )
