"""Mock `core.cache`: one in-memory store per backend, one namespace per plugin."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from backstage_backend_plugin_api import (
    CacheService,
    JsonValue,
    ServiceFactory,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.durations import read_optional_duration
from backstage_common.errors import InputError

__all__ = ["InMemoryCache", "InMemoryCacheStore", "mock_cache_factory"]

Clock = Callable[[], float]


@dataclass(frozen=True)
class _Entry:
    encoded: str
    expires_at: float | None


def _as_timedelta(ttl: timedelta | float) -> timedelta:
    """Numbers are milliseconds, as in Backstage."""
    return ttl if isinstance(ttl, timedelta) else timedelta(milliseconds=ttl)


class InMemoryCacheStore:
    """The entries of every namespace, with expiry times read from a monotonic `clock`."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def get(self, key: str) -> JsonValue | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and self._clock() >= entry.expires_at:
            del self._entries[key]
            return None
        value: JsonValue = json.loads(entry.encoded)
        return value

    def set(self, key: str, value: JsonValue, ttl: timedelta | None) -> None:
        try:
            encoded = json.dumps(value)
        except (TypeError, ValueError) as error:
            raise InputError(f"Cache values must be JSON serializable, {error}") from error
        expires_at = None if ttl is None else self._clock() + ttl.total_seconds()
        self._entries[key] = _Entry(encoded, expires_at)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    def keys(self) -> list[str]:
        """The stored keys (`<namespace>:<key>`), expired ones included until read."""
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()


class InMemoryCache:
    """A plugin's view of the store: keys are prefixed with `<namespace>:`.

    Values are stored as JSON, so what `get` returns is a copy of what `set` stored.
    """

    def __init__(
        self,
        store: InMemoryCacheStore | None = None,
        *,
        namespace: str = "test",
        default_ttl: timedelta | None = None,
    ) -> None:
        self.store = store if store is not None else InMemoryCacheStore()
        self.namespace = namespace
        self.default_ttl = default_ttl

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    async def get(self, key: str) -> JsonValue | None:
        return self.store.get(self._key(key))

    async def set(
        self, key: str, value: JsonValue, *, ttl: timedelta | float | None = None
    ) -> None:
        chosen = _as_timedelta(ttl) if ttl is not None else self.default_ttl
        self.store.set(self._key(key), value, chosen)

    async def delete(self, key: str) -> None:
        self.store.delete(self._key(key))

    def with_options(self, *, default_ttl: timedelta | float | None) -> InMemoryCache:
        return InMemoryCache(
            self.store,
            namespace=self.namespace,
            default_ttl=_as_timedelta(default_ttl) if default_ttl is not None else None,
        )


@dataclass(frozen=True)
class _CacheRoot:
    store: InMemoryCacheStore
    default_ttl: timedelta | None


def mock_cache_factory(*, default_ttl: timedelta | None = None) -> ServiceFactory[CacheService]:
    """An in-memory cache per backend; `default_ttl` wins over `backend.cache.defaultTtl`."""

    def create_root(config: core.RootConfig) -> _CacheRoot:
        ttl = default_ttl or read_optional_duration(config, "backend.cache.defaultTtl")
        return _CacheRoot(InMemoryCacheStore(), ttl)

    def create(root: _CacheRoot, metadata: core.PluginMetadata) -> CacheService:
        return InMemoryCache(root.store, namespace=metadata.get_id(), default_ttl=root.default_ttl)

    return create_service_factory(
        service=core.cache, factory=create, create_root_context=create_root
    )
