"""Reading `backend.database` for one plugin, with Backstage's per-plugin overrides."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from backstage_backend_plugin_api import RootConfigService
from backstage_common.durations import parse_duration, read_optional_duration
from backstage_common.errors import InputError

__all__ = ["DatabaseLimits", "PluginDatabaseSettings", "read_plugin_settings"]

_PG = ("pg", "postgres", "postgresql")
_SQLITE = ("better-sqlite3", "sqlite3")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLUGIN_POOL_SIZE = 10
"""Connections per plugin pool unless `pool.max` says otherwise: Backstage's (knex's) default."""
SHARED_POOL_SIZE = 10
"""Connections of a pool shared by the plugins of a backend (pg schema mode)."""
BACKGROUND_POOL_SIZE = 2
"""Connections of each pool kept for background work (`backgroundPool.max`)."""


@dataclass(frozen=True)
class DatabaseLimits:
    """How long a plugin's database may take, in seconds (0: no limit), and its session
    settings. Every wait on the database is bounded, so that a partitioned server (which
    neither answers nor refuses) fails requests with 503 instead of holding them.

    The defaults are shorter than knex's (60 s to acquire, no connect or statement limit):
    a request that cannot get a connection within 10 s is better answered 503 at once, so
    the client may retry, than held past the timeouts of the proxies in front of it.
    """

    connect: float = 10.0
    """`connection.connectionTimeoutMillis` (pg's name; knex's `pool.createTimeoutMillis`)."""
    acquire: float = 10.0
    """`acquireConnectionTimeout` (knex's name; its pool's `acquireTimeoutMillis` is read
    too): waiting for a connection of the pool."""
    statement: float = 30.0
    """`connection.statement_timeout` (Postgres cancels a statement that runs longer)."""
    query: float = 35.0
    """`connection.query_timeout` (pg's name): the client's own bound on each round trip,
    for when the server cannot even be told to cancel; by default the statement timeout
    plus 5 s."""
    keepalive: bool = True
    """`connection.keepAlive`: TCP keepalives on both ends, so that a connection to a
    server that vanished is dropped, not kept in the pool."""
    keepalive_idle: float = 10.0
    """`connection.keepAliveInitialDelayMillis`: idle time before the first keepalive."""
    jit: bool = False
    """`jit`: Postgres's JIT compilation, off by default: it costs seconds on statements
    with many conditions (the catalog's and search's filters) and saves nothing on the
    short queries of a backend."""


@dataclass(frozen=True)
class PluginDatabaseSettings:
    plugin_id: str
    client: Literal["pg", "sqlite"]
    connection: dict[str, Any] = field(default_factory=dict)
    """pg: host, port, user, password, database, ssl; sqlite: filename or directory."""
    division: Literal["database", "schema"] = "database"
    database_name: str | None = None
    """pg: the logical database of this plugin (database mode) or the shared one (schema)."""
    schema: str | None = None
    ensure_exists: bool = True
    skip_migrations: bool = False
    pool_size: int = PLUGIN_POOL_SIZE
    shared_pool: bool = False
    """pg schema mode: this plugin's sessions come from a pool shared with every plugin
    that has the same connection, pool size and limits (each session set to its own schema)."""
    limits: DatabaseLimits = field(default_factory=DatabaseLimits)
    background_pool_size: int = BACKGROUND_POOL_SIZE
    """pg: connections of the pool kept for the plugin's background work."""

    def describe(self) -> str:
        """Where the database is, never with its password."""
        if self.client == "sqlite":
            return f"sqlite {self.connection.get('directory', self.connection.get('filename'))}"
        host = self.connection.get("host", "localhost")
        where = f"postgres {host}:{self.connection.get('port', 5432)}/{self.database_name or ''}"
        return where if self.schema is None else f"{where} schema {self.schema}"

    def pool_key(self) -> tuple[str, ...]:
        """What two plugins must have in common to share one pool."""
        connection = {key: repr(value) for key, value in sorted(self.connection.items())}
        return (
            self.client,
            repr(connection),
            self.database_name or "",
            str(self.pool_size),
            str(self.background_pool_size),
            repr(self.limits),
        )


def _parse_connection(value: Any, client: str, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if not isinstance(value, str):
        raise InputError(f"Invalid {key}: use a connection string or an object")
    if client == "sqlite":
        return {"filename": value}
    parts = urlsplit(value)
    if parts.scheme not in ("postgres", "postgresql"):
        raise InputError(f"Invalid {key}: use postgresql://user:password@host:port/database")
    parsed: dict[str, Any] = {"host": parts.hostname or "localhost", "port": parts.port or 5432}
    if parts.username:
        parsed["user"] = unquote(parts.username)
    if parts.password:
        parsed["password"] = unquote(parts.password)
    if parts.path.strip("/"):
        parsed["database"] = unquote(parts.path.strip("/"))
    return parsed


def _client(value: str | None, key: str) -> Literal["pg", "sqlite"]:
    if value is None or value in _SQLITE:
        return "sqlite"
    if value in _PG:
        return "pg"
    raise InputError(f"Unsupported database client '{value}' in {key}, use pg or better-sqlite3")


def _read_pool_max(config: RootConfigService, section: str, pool: str = "pool") -> int | None:
    """`<section>.pool.max`, or Backstage's `<section>.knexConfig.pool.max`."""
    keys = (f"{section}.{pool}.max", f"{section}.knexConfig.{pool}.max")
    for key in keys if pool == "pool" else keys[:1]:
        value = config.get_optional_number(key)
        if value is None:
            continue
        if isinstance(value, bool) or value != int(value) or value < 1:
            raise InputError(f"Invalid {key} {value!r}: it must be a whole number of at least 1")
        return int(value)
    return None


def _pool_size(config: RootConfigService, own: str, base: str, shared: bool) -> int:
    """The plugin's own `pool.max`, else the base one, else the default: 10 connections, for
    a pool of one plugin as for a pool shared by the plugins of the backend."""
    size = _read_pool_max(config, own) or _read_pool_max(config, base)
    if size is not None:
        return size
    return SHARED_POOL_SIZE if shared else PLUGIN_POOL_SIZE


_CONNECTION_LIMITS = (
    "connectionTimeoutMillis",
    "statement_timeout",
    "query_timeout",
    "keepAlive",
    "keepAliveInitialDelayMillis",
)
"""Keys of `connection` that are limits, not where to connect (never passed to the driver)."""


def _seconds(value: Any, key: str) -> float:
    """A duration (milliseconds, as pg's and knex's options, or `'10s'` and the like);
    `false` means no limit, as 0 does."""
    if value is False:
        return 0.0
    return parse_duration(value, key=key).total_seconds()


def _read_seconds(config: RootConfigService, keys: tuple[str, ...]) -> float | None:
    for key in keys:
        if config.has(key) and config.get_optional(key) is False:
            return 0.0
        value = read_optional_duration(config, key)
        if value is not None:
            return value.total_seconds()
    return None


def _read_limits(
    config: RootConfigService, own: str, base: str, connection: dict[str, Any]
) -> DatabaseLimits:
    """The plugin's own settings win over the base ones, as for `pool.max`."""
    defaults = DatabaseLimits()
    sections = (own, base)

    def from_connection(name: str, default: float) -> float:
        value = connection.get(name)
        return default if value is None else _seconds(value, f"connection.{name}")

    acquire = _read_seconds(
        config,
        tuple(
            f"{section}.{key}"
            for section in sections
            for key in (
                "acquireConnectionTimeout",
                "knexConfig.acquireConnectionTimeout",
                "knexConfig.pool.acquireTimeoutMillis",
            )
        ),
    )
    create = _read_seconds(
        config, tuple(f"{section}.knexConfig.pool.createTimeoutMillis" for section in sections)
    )
    statement = from_connection("statement_timeout", defaults.statement)
    keepalive = connection.get("keepAlive", defaults.keepalive)
    if not isinstance(keepalive, bool):
        raise InputError(f"Invalid connection.keepAlive {keepalive!r}: use true or false")
    jit: bool | None = None
    for section in sections:
        jit = config.get_optional_boolean(f"{section}.jit")
        if jit is not None:
            break
    return DatabaseLimits(
        connect=from_connection(
            "connectionTimeoutMillis", defaults.connect if create is None else create
        ),
        acquire=defaults.acquire if acquire is None else acquire,
        statement=statement,
        query=from_connection("query_timeout", statement + 5.0 if statement else 0.0),
        keepalive=keepalive,
        keepalive_idle=from_connection("keepAliveInitialDelayMillis", defaults.keepalive_idle),
        jit=bool(jit),
    )


def read_plugin_settings(config: RootConfigService, plugin_id: str) -> PluginDatabaseSettings:
    """Backstage's resolution: the plugin's `client` and `connection` override the base ones;
    a plugin that changes client does not inherit the base connection."""
    base = "backend.database"
    own = f"{base}.plugin.{plugin_id}"
    base_client = _client(config.get_optional_string(f"{base}.client"), f"{base}.client")
    own_client_name = config.get_optional_string(f"{own}.client")
    client = _client(own_client_name, f"{own}.client") if own_client_name else base_client
    connection: dict[str, Any] = {}
    if client == base_client:
        connection = _parse_connection(
            config.get_optional(f"{base}.connection"), client, f"{base}.connection"
        )
    own_connection = _parse_connection(
        config.get_optional(f"{own}.connection"), client, f"{own}.connection"
    )
    connection.update(own_connection)
    if not connection and client == "sqlite":
        connection = {"filename": ":memory:"}

    def flag(name: str, default: bool) -> bool:
        value = config.get_optional_boolean(f"{own}.{name}")
        if value is None:
            value = config.get_optional_boolean(f"{base}.{name}")
        return default if value is None else value

    division = config.get_optional_string(f"{base}.pluginDivisionMode") or "database"
    if division not in ("database", "schema"):
        raise InputError(f"Invalid {base}.pluginDivisionMode '{division}', use database or schema")
    shared = (
        division == "schema"
        and client == "pg"
        and config.get_optional_boolean(f"{base}.sharedPool") is not False
    )
    limits = _read_limits(config, own, base, connection)
    connection = {key: value for key, value in connection.items() if key not in _CONNECTION_LIMITS}
    settings = PluginDatabaseSettings(
        plugin_id=plugin_id,
        client=client,
        connection=connection,
        division="schema" if division == "schema" and client == "pg" else "database",
        ensure_exists=flag("ensureExists", True),
        skip_migrations=flag("skipMigrations", False),
        pool_size=_pool_size(config, own, base, shared),
        shared_pool=shared,
        limits=limits,
        background_pool_size=_read_pool_max(config, own, "backgroundPool")
        or _read_pool_max(config, base, "backgroundPool")
        or BACKGROUND_POOL_SIZE,
    )
    if client == "sqlite":
        return settings
    prefix = config.get_optional_string(f"{base}.prefix") or "backstage_plugin_"
    own_database = own_connection.get("database")
    if settings.division == "schema":
        schema = (config.get_optional_string(f"{base}.schemaPrefix") or "") + plugin_id
        schema = schema.replace("-", "_")
        if not _IDENTIFIER.match(schema) or len(schema.encode()) > 63:
            raise InputError(f"Invalid schema name '{schema}' for plugin '{plugin_id}'")
        return PluginDatabaseSettings(
            **{
                **settings.__dict__,
                # the configured database, or the driver's default (the user's name): never
                # the `postgres` maintenance database unless configured so
                "database_name": connection.get("database"),
                "schema": schema,
            }
        )
    name = own_database or f"{prefix}{plugin_id}"
    return PluginDatabaseSettings(**{**settings.__dict__, "database_name": name})
