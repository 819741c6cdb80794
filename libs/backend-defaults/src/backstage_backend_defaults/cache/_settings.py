"""Reading `backend.cache`: which store, where, and how long an operation may take."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from backstage_backend_plugin_api import RootConfigService
from backstage_common.config import Config
from backstage_common.durations import parse_duration
from backstage_common.errors import InputError

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "StoreSettings", "read_store_settings"]

_STORES = ("memory", "redis", "valkey", "memcache", "infinispan")
DEFAULT_TIMEOUT_SECONDS = 2.0
"""How long one cache operation may take before it counts as a miss (`backend.cache.timeout`)."""


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
    cluster_nodes: tuple[tuple[str, int], ...] = ()
    """redis/valkey cluster mode: the root nodes the cluster is discovered from."""
    read_from_replicas: bool = False
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def describe(self) -> str:
        """Where the store is, never with its password."""
        if self.store == "memory":
            return self.store
        if self.cluster_nodes:
            nodes = ",".join(f"{host}:{port}" for host, port in self.cluster_nodes)
            return f"{self.store} cluster at {nodes}"
        return f"{self.store} at {self.host}:{self.port}"

    def __repr__(self) -> str:  # never the password, in a log line or a traceback
        return f"StoreSettings({self.describe()!r}, username={self.username!r})"


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
    """`host:port` or, as Backstage documents it, `user:pass@host:port` (SASL PLAIN; `@`
    and `:` inside the user or password percent-encoded)."""
    credentials, _, where = connection.rpartition("@")
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit() or "," in where:
        raise InputError(
            f"Invalid backend.cache.connection '{where}' for memcache, use host:port or "
            "user:pass@host:port (one server)"
        )
    username = password = None
    if credentials:
        user_text, colon, password_text = credentials.partition(":")
        if not user_text or not colon:
            raise InputError(
                "Invalid credentials in backend.cache.connection for memcache, use "
                "user:pass@host:port"
            )
        username, password = unquote(user_text), unquote(password_text)
    return StoreSettings(
        store="memcache",
        host=host.strip("[]"),
        port=int(port),
        username=username,
        password=password,
    )


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


def _read_timeout(config: RootConfigService) -> float:
    key = "backend.cache.timeout"
    value = config.get_optional(key)
    if value is None:
        return DEFAULT_TIMEOUT_SECONDS
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / 1000
    else:
        seconds = parse_duration(value, key=key).total_seconds()
    if seconds <= 0:
        raise InputError(f"Invalid {key} {value!r}: it must be a positive duration")
    return seconds


def _read_cluster(config: RootConfigService, store: str) -> StoreSettings | None:
    """`backend.cache.<redis|valkey>.cluster`: cluster mode when `rootNodes` lists nodes."""
    section = f"backend.cache.{store}.cluster"
    nodes = config.get_optional_config_array(f"{section}.rootNodes")
    if not nodes:
        return None
    parsed = [_parse_redis(node.get_string("url"), store) for node in nodes]
    defaults = config.get_optional_config(f"{section}.defaults")
    username = defaults.get_optional_string("username") if defaults else None
    password = defaults.get_optional_string("password") if defaults else None
    return StoreSettings(
        store=store,
        host=parsed[0].host,
        port=parsed[0].port,
        username=username or parsed[0].username,
        password=password or parsed[0].password,
        ssl=parsed[0].ssl,
        cluster_nodes=tuple((node.host, node.port) for node in parsed),
        read_from_replicas=bool(config.get_optional_boolean(f"{section}.useReplicas")),
    )


def _read_store(config: RootConfigService, store: str) -> StoreSettings:
    if store == "memory":
        return StoreSettings(store="memory")
    if store == "infinispan":
        return _read_infinispan(config)
    cluster = _read_cluster(config, store) if store in ("redis", "valkey") else None
    if cluster is not None:
        return _with_namespace(config, cluster)
    connection = config.get_optional("backend.cache.connection")
    if isinstance(connection, dict):
        connection = config.get_string("backend.cache.connection.url")
    if not isinstance(connection, str) or not connection:
        raise InputError(f"backend.cache.connection is required for the {store} cache store")
    if store == "memcache":
        return _parse_memcache(connection)
    return _with_namespace(config, _parse_redis(connection, store))


def _with_namespace(config: RootConfigService, settings: StoreSettings) -> StoreSettings:
    if settings.store == "redis":
        namespace = config.get_optional_string("backend.cache.redis.client.namespace") or ""
        separator = (
            config.get_optional_string("backend.cache.redis.client.keyPrefixSeparator") or ":"
        )
        prefix = f"{namespace}{separator}" if namespace else ""
    else:
        prefix = config.get_optional_string("backend.cache.valkey.client.keyPrefix") or ""
    return StoreSettings(**{**settings.__dict__, "namespace": prefix})


def read_store_settings(config: RootConfigService) -> StoreSettings:
    store = config.get_optional_string("backend.cache.store") or "memory"
    if store not in _STORES:
        raise InputError(
            f"Unknown cache store '{store}' in backend.cache.store, use one of "
            + ", ".join(_STORES)
        )
    settings = _read_store(config, store)
    return StoreSettings(**{**settings.__dict__, "timeout": _read_timeout(config)})
