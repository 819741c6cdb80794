"""core.cache: one store per backend (memory; Redis, Valkey or a Redis Cluster through redis-py;
memcached through aiomcache, or its binary protocol with SASL; Infinispan's RESP endpoint),
one namespace per plugin.

Config: `backend.cache.store` (`memory` by default, `redis`, `valkey`, `memcache`,
`infinispan`), `backend.cache.connection` (`redis://user:pass@host:6379/0`, `host:11211`,
`user:pass@host:11211`), `backend.cache.infinispan.{servers, authentication, ssl}`,
`backend.cache.defaultTtl` (milliseconds or a duration), `backend.cache.timeout` (per
operation, 2 s), `backend.cache.redis.client.namespace` and `keyPrefixSeparator`,
`backend.cache.valkey.client.keyPrefix`, and Redis Cluster through
`backend.cache.<redis|valkey>.cluster.rootNodes` (`[{url}]`), `defaults.{username,
password}` and `useReplicas`. A store outage or a timeout is logged (at most every 30 s)
and counted, and reads as a miss; it never fails a request. At start, a server that answers
but is not what the config says (credentials refused, a memcached without SASL given
credentials, an Infinispan endpoint without RESP) stops the start, naming the problem.
"""

from __future__ import annotations

from backstage_backend_plugin_api import LoggerService, RootConfigService, create_service_factory
from backstage_backend_plugin_api import core_services as core
from backstage_common.durations import parse_duration

from backstage_backend_defaults.cache._checks import check_store
from backstage_backend_defaults.cache._client import CacheClient, CacheHealth, to_seconds
from backstage_backend_defaults.cache._hooks import CACHE_HOOKS, CacheHooks
from backstage_backend_defaults.cache._keys import stored_key
from backstage_backend_defaults.cache._settings import StoreSettings, read_store_settings
from backstage_backend_defaults.cache._stores import CacheStore, create_store
from backstage_backend_defaults.instrumentation import InstrumentationDep

__all__ = [
    "CACHE_HOOKS",
    "CacheClient",
    "CacheHealth",
    "CacheHooks",
    "CacheManager",
    "CacheStore",
    "StoreSettings",
    "cache_service_factory",
    "read_store_settings",
    "stored_key",
]


def _read_default_ttl(config: RootConfigService) -> float | None:
    value = config.get_optional("backend.cache.defaultTtl")
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return to_seconds(value, what="defaultTtl")
    return parse_duration(value, key="backend.cache.defaultTtl").total_seconds()


class CacheManager:
    """The backend's one store connection, handing each plugin its own namespace."""

    def __init__(
        self, config: RootConfigService, logger: LoggerService, hooks: CacheHooks | None = None
    ) -> None:
        self.settings = read_store_settings(config)
        self.store = create_store(self.settings)
        self.health = CacheHealth(self.settings.describe(), logger)
        self._logger = logger
        self._default_ttl = _read_default_ttl(config)
        self._hooks = hooks

    def for_plugin(self, plugin_id: str) -> CacheClient:
        store: CacheStore = self.store
        if self._hooks is not None:  # traced and counted; untouched when telemetry is off
            store = self._hooks.plugin_store(
                self.store, store_name=self.settings.store, plugin_id=plugin_id
            )
        return CacheClient(
            store,
            plugin_id=plugin_id,
            prefix=f"{self.settings.namespace}{plugin_id}:",
            health=self.health,
            default_ttl=self._default_ttl,
        )

    async def check(self) -> None:
        """Raise `InputError` naming the problem when the store's server is not what the
        config says; only warn when it does not answer (an outage is a miss)."""
        await check_store(self.settings, self._logger)

    async def close(self) -> None:
        await self.store.close()


async def _create_manager(
    config: core.RootConfig,
    logger: core.RootLogger,
    lifecycle: core.RootLifecycle,
    instrumentation: InstrumentationDep,
) -> CacheManager:
    hooks = instrumentation.get(CACHE_HOOKS)
    manager = CacheManager(config, logger.child({"service": "cache"}), hooks)
    try:
        await manager.check()
    except BaseException:
        await manager.close()
        raise
    lifecycle.add_shutdown_hook(manager.close)
    return manager


def _plugin_cache(manager: CacheManager, metadata: core.PluginMetadata) -> CacheClient:
    return manager.for_plugin(metadata.get_id())


cache_service_factory = create_service_factory(
    service=core.cache, factory=_plugin_cache, create_root_context=_create_manager
)
