"""Building the configured aiocache store from `backend.cache`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from aiocache import BaseCache
from aiocache.serializers import NullSerializer
from backstage_backend_plugin_api import RootConfigService
from backstage_common.config import Config
from backstage_common.errors import InputError

__all__ = ["StoreSettings", "create_store", "read_store_settings"]

_STORES = ("memory", "redis", "valkey", "memcache", "infinispan")


@dataclass(frozen=True)
class StoreSettings:
    store: str
    host: str = "127.0.0.1"
    port: int = 0
    username: str | None = None
    password: str | None = None
    db: int = 0
    ssl: bool = False
    namespace: str = ""
    """Prefix before `<pluginId>:` in every key (redis `client.namespace`, valkey `keyPrefix`)."""

    def describe(self) -> str:
        """Where the store is, never with its password."""
        return self.store if self.store == "memory" else f"{self.store} at {self.host}:{self.port}"


def _parse_redis(url: str, store: str) -> StoreSettings:
    parts = urlsplit(url if "://" in url else f"redis://{url}")
    if parts.scheme not in ("redis", "rediss", "valkey", "valkeys"):
        raise InputError(f"Invalid backend.cache.connection for {store}: use redis://host:port")
    db_text = parts.path.strip("/") or "0"
    if not db_text.isdigit():
        raise InputError(f"Invalid database '{db_text}' in backend.cache.connection")
    return StoreSettings(
        store=store,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        db=int(db_text),
        ssl=parts.scheme in ("rediss", "valkeys"),
    )


def _parse_memcache(connection: str) -> StoreSettings:
    where = connection.rsplit("@", 1)[-1]
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"Invalid backend.cache.connection '{where}' for memcache, use host:port")
    return StoreSettings(store="memcache", host=host.strip("[]"), port=int(port))


def _read_infinispan(config: RootConfigService) -> StoreSettings:
    """Infinispan (15 and later) through its RESP endpoint, which speaks the Redis protocol
    on the server's single port: `backend.cache.infinispan.servers` (the first server is
    used), `authentication.{userName, password}` and `ssl.enabled`, as Backstage reads them.
    """
    key = "backend.cache.infinispan.servers"
    servers = config.get_optional(key)
    server: Config | None
    if isinstance(servers, list):
        if not servers:
            raise InputError(f"{key} must list at least one server")
        server = config.get_config_array(key)[0]
    else:
        server = config.get_optional_config(key)
    host = (server.get_optional_string("host") if server else None) or "127.0.0.1"
    port = (server.get_optional_number("port") if server else None) or 11222
    auth = config.get_optional_config("backend.cache.infinispan.authentication")
    enabled = auth is not None and auth.get_optional_boolean("enabled") is not False
    return StoreSettings(
        store="infinispan",
        host=host,
        port=int(port),
        username=auth.get_optional_string("userName") if auth is not None and enabled else None,
        password=auth.get_optional_string("password") if auth is not None and enabled else None,
        ssl=bool(config.get_optional_boolean("backend.cache.infinispan.ssl.enabled")),
    )


def read_store_settings(config: RootConfigService) -> StoreSettings:
    store = config.get_optional_string("backend.cache.store") or "memory"
    if store not in _STORES:
        raise InputError(
            f"Unknown cache store '{store}' in backend.cache.store, use one of "
            + ", ".join(_STORES)
        )
    if store == "memory":
        return StoreSettings(store="memory")
    if store == "infinispan":
        return _read_infinispan(config)
    connection = config.get_optional("backend.cache.connection")
    if isinstance(connection, dict):
        connection = config.get_string("backend.cache.connection.url")
    if not isinstance(connection, str) or not connection:
        raise InputError(f"backend.cache.connection is required for the {store} cache store")
    if store == "memcache":
        return _parse_memcache(connection)
    settings = _parse_redis(connection, store)
    if store == "redis":
        namespace = config.get_optional_string("backend.cache.redis.client.namespace") or ""
        separator = (
            config.get_optional_string("backend.cache.redis.client.keyPrefixSeparator") or ":"
        )
        prefix = f"{namespace}{separator}" if namespace else ""
    else:
        prefix = config.get_optional_string("backend.cache.valkey.client.keyPrefix") or ""
    return StoreSettings(**{**settings.__dict__, "namespace": prefix})


def create_store(settings: StoreSettings) -> BaseCache:
    """An aiocache client that stores bytes as given (the service encodes JSON itself)."""
    if settings.store == "memory":
        from aiocache import SimpleMemoryCache

        return SimpleMemoryCache(serializer=NullSerializer())
    if settings.store == "memcache":
        from aiocache import MemcachedCache

        return MemcachedCache(
            serializer=NullSerializer(),
            endpoint=settings.host,
            port=settings.port,
            pool_size=4,
            timeout=None,
        )
    from aiocache import RedisCache

    return RedisCache(
        serializer=NullSerializer(),
        endpoint=settings.host,
        port=settings.port,
        db=settings.db,
        password=settings.password,
        ssl=settings.ssl,
        create_connection_timeout=2.0,
        # redis-py's own socket timeout bounds each call; aiocache's per-call timeout would
        # wrap every operation in asyncio.wait_for, which costs more than the call itself
        timeout=None,
        connection_pool_kwargs={
            "socket_timeout": 2.0,
            **({"username": settings.username} if settings.username else {}),
        },
    )
