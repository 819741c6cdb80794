"""What the cache service calls when something observes the cache calls."""

from __future__ import annotations

from typing import Protocol

from backstage_backend_defaults.cache._stores import CacheStore
from backstage_backend_defaults.instrumentation import HookPoint

__all__ = ["CACHE_HOOKS", "CacheHooks"]


class CacheHooks(Protocol):
    """Wraps each plugin's view of the backend's store."""

    def plugin_store(self, store: CacheStore, *, store_name: str, plugin_id: str) -> CacheStore:
        """The store a plugin's cache client uses, in place of `store`.

        Args:
            store: The backend's store.
            store_name: Its kind (`memory`, `redis`, `valkey`, `memcache`).
            plugin_id: The plugin whose client it is for.
        """
        ...


CACHE_HOOKS: HookPoint[CacheHooks] = HookPoint("cache.stores")
"""Where cache hooks are registered; the cache service reads it when it is created."""
