"""Creating a plugin's engine: ensuring its Postgres database or schema, or its SQLite file."""

from __future__ import annotations

import asyncio
import socket
import weakref
from pathlib import Path
from typing import Any

from backstage_common.errors import ServiceUnavailableError
from sqlalchemy import URL, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backstage_backend_defaults.database._settings import DatabaseLimits, PluginDatabaseSettings
from backstage_backend_defaults.database._sqlite_memory import create_memory_sqlite_engine
from backstage_backend_defaults.database._unavailable import (
    UNREACHABLE,
    DatabaseUnavailableError,
    install_unavailable_errors,
)

__all__ = [
    "create_background_engine",
    "create_plugin_engine",
    "create_probe_engine",
    "create_shared_engine",
    "dispose_within",
    "ensure_schema",
    "postgres_url",
    "terminate_connections",
    "unreachable",
]

_KEEPALIVE_PROBES = 3
"""Unanswered keepalives after which a connection is dead."""

# SQLSTATEs that mean "someone else created it first": duplicate database, unique violation
_ALREADY_CREATED = ("42P04", "23505", "42P06")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def unreachable(settings: PluginDatabaseSettings, error: BaseException) -> ServiceUnavailableError:
    """A clear error naming the server (host and port, never the password) and the plugin."""
    connection = settings.connection
    where = f"{connection.get('host', 'localhost')}:{connection.get('port', 5432)}"
    what = (
        f"schema '{settings.schema}' exists in '{settings.database_name or '(default)'}'"
        if settings.schema is not None
        else f"'{settings.database_name}' exists"
    )
    if isinstance(error, DatabaseUnavailableError) and error.__cause__ is not None:
        error = error.__cause__
    cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    return DatabaseUnavailableError(
        f"Failed to connect to the database at {where} to make sure that {what} for plugin "
        f"'{settings.plugin_id}': {type(cause).__name__}: {cause}",
        public_message=UNREACHABLE,  # a request that met it learns nothing of the server
    )


def _connect_errors() -> tuple[type[BaseException], ...]:
    # asyncpg loads with the first Postgres database: a unit on SQLite never needs it
    import asyncpg

    return (OSError, TimeoutError, asyncpg.PostgresError, DBAPIError, DatabaseUnavailableError)


async def _admin_connect(settings: PluginDatabaseSettings, database: str) -> Any:
    import asyncpg

    connection = settings.connection
    try:
        return await asyncpg.connect(
            host=connection.get("host", "localhost"),
            port=int(connection.get("port", 5432)),
            user=connection.get("user"),
            password=connection.get("password"),
            database=database,
            ssl=connection.get("ssl"),
            timeout=settings.limits.connect or 10,
            command_timeout=settings.limits.query or None,
        )
    except _connect_errors() as error:
        raise unreachable(settings, error) from error


async def _ensure_database(settings: PluginDatabaseSettings) -> None:
    import asyncpg

    assert settings.database_name is not None
    admin = await _admin_connect(settings, "postgres")
    try:
        exists = await admin.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", settings.database_name
        )
        if not exists:
            try:
                await admin.execute(f"CREATE DATABASE {_quote(settings.database_name)}")
            except asyncpg.PostgresError as error:
                if getattr(error, "sqlstate", None) not in _ALREADY_CREATED:
                    raise
    finally:
        await admin.close()


async def ensure_schema(settings: PluginDatabaseSettings, engine: AsyncEngine) -> None:
    """`CREATE SCHEMA IF NOT EXISTS` through a connection of the plugin's own pool, in the
    configured database: never through the `postgres` maintenance database."""
    assert settings.schema is not None
    try:
        async with engine.connect() as connection:
            try:
                await connection.exec_driver_sql(
                    f"CREATE SCHEMA IF NOT EXISTS {_quote(settings.schema)}"
                )
                await connection.commit()
            except DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) not in _ALREADY_CREATED:
                    raise
    except _connect_errors() as error:
        raise unreachable(settings, error) from error


def postgres_url(settings: PluginDatabaseSettings) -> URL:
    connection = settings.connection
    return URL.create(
        "postgresql+asyncpg",
        username=connection.get("user"),
        password=connection.get("password"),
        host=connection.get("host", "localhost"),
        port=int(connection.get("port", 5432)),
        database=settings.database_name,
    )


def _server_settings(limits: DatabaseLimits, own: dict[str, str]) -> dict[str, str]:
    """The session settings every connection starts with: the plugin's own (application
    name, search path), the statement timeout, JIT, and the server's TCP keepalives (so
    that the server also drops a connection whose client vanished)."""
    server = dict(own)
    server["statement_timeout"] = str(round(limits.statement * 1000))
    if not limits.jit:
        server["jit"] = "off"
    if limits.keepalive:
        idle = max(1, round(limits.keepalive_idle))
        server["tcp_keepalives_idle"] = str(idle)
        server["tcp_keepalives_interval"] = str(_keepalive_interval(idle))
        server["tcp_keepalives_count"] = str(_KEEPALIVE_PROBES)
    return server


def _keepalive_interval(idle: int) -> int:
    return max(1, idle // _KEEPALIVE_PROBES)


def _connect_args(settings: PluginDatabaseSettings, own: dict[str, str]) -> Any:
    limits = settings.limits
    connect_args: dict[str, Any] = {"server_settings": _server_settings(limits, own)}
    if limits.connect:
        connect_args["timeout"] = limits.connect
    if limits.query:
        connect_args["command_timeout"] = limits.query
    if settings.connection.get("ssl") is not None:
        connect_args["ssl"] = settings.connection["ssl"]
    return connect_args


def _set_keepalive(sock: socket.socket, idle: int) -> None:
    """TCP keepalives on the client's end, and a bound on unacknowledged writes: a
    partition then ends the connection (an error, then a new connection) within about
    twice the idle time instead of after the kernel's default of hours."""
    interval = _keepalive_interval(idle)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", idle),
        ("TCP_KEEPINTVL", interval),
        ("TCP_KEEPCNT", _KEEPALIVE_PROBES),
        ("TCP_USER_TIMEOUT", (idle + interval * _KEEPALIVE_PROBES) * 1000),
    ):
        if hasattr(socket, option):  # Linux has them all; other systems some
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


# Every driver connection an engine opened, to terminate at shutdown those a graceful
# close cannot end (their server does not answer).
_OPENED: weakref.WeakKeyDictionary[Engine, weakref.WeakSet[Any]] = weakref.WeakKeyDictionary()


# Engines whose connections were terminated at the shutdown deadline: they open no more.
_CLOSED: weakref.WeakSet[Engine] = weakref.WeakSet()


def _prepare_connections(engine: AsyncEngine, limits: DatabaseLimits) -> None:
    opened: weakref.WeakSet[Any] = weakref.WeakSet()
    _OPENED[engine.sync_engine] = opened
    closed = _CLOSED

    @event.listens_for(engine.sync_engine, "do_connect")
    def _refuse_when_closed(_dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
        if engine.sync_engine in closed:
            raise DatabaseUnavailableError(
                "The backend is shutting down", public_message=UNREACHABLE
            )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        driver_connection = dbapi_connection.driver_connection
        opened.add(driver_connection)
        if limits.keepalive:
            # asyncpg has no public way to its socket; its transport gives the socket
            sock = driver_connection._transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                _set_keepalive(sock, max(1, round(limits.keepalive_idle)))


def terminate_connections(engine: AsyncEngine, *, for_good: bool = False) -> None:
    """Close every connection of `engine` still open at once, without a word to the server;
    `for_good`: and open no new one (work still waiting on them fails at once)."""
    if for_good:
        _CLOSED.add(engine.sync_engine)
    for driver_connection in list(_OPENED.get(engine.sync_engine, ())):
        if not driver_connection.is_closed():
            driver_connection.terminate()


async def dispose_within(engine: AsyncEngine, seconds: float) -> None:
    """Close the engine's connections, politely for `seconds` at most, then by force.

    A polite close waits for the server's answer, which a partitioned server never gives;
    a connection still checked out (by a task that shutdown abandoned) is closed too. The
    polite close runs as a task of its own, because SQLAlchemy's pool carries on closing
    connection after connection when the task that asked is cancelled.
    """
    polite = asyncio.ensure_future(engine.dispose())
    try:
        await asyncio.wait([polite], timeout=seconds)
    finally:  # also when cancelled: terminating never waits
        terminate_connections(engine)
        if not polite.done():
            polite.cancel()
            # its awaits end as their connections are terminated; nothing left to report
            polite.add_done_callback(_ignore_outcome)


def _ignore_outcome(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()


def _postgres_options(settings: PluginDatabaseSettings, own: dict[str, str]) -> dict[str, Any]:
    return {
        "pool_size": settings.pool_size,
        "max_overflow": 0,
        "pool_timeout": settings.limits.acquire or None,
        # an error's text never carries the values of a statement (client input, secrets)
        "hide_parameters": True,
        "connect_args": _connect_args(settings, own),
    }


def _prepare(engine: AsyncEngine, settings: PluginDatabaseSettings) -> None:
    _prepare_connections(engine, settings.limits)
    install_unavailable_errors(engine)
    _check_on_checkout(engine)


def _check_on_checkout(engine: AsyncEngine) -> None:
    """Drop a connection the server has closed (a restart, `pg_terminate_backend`) as it
    leaves the pool, so that a session never gets it.

    The server says goodbye before it closes a connection, and asyncpg, reading every idle
    connection from the event loop, marks the connection closed when it does: asking
    asyncpg costs no round trip, where a ping (`pool_pre_ping`) costs one on every checkout.
    Backstage's pool checks its connections the same way (knex keeps those its client has
    not seen end).
    """

    @event.listens_for(engine.sync_engine, "checkout")
    def _check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("The server closed the connection")


async def _postgres_engine(settings: PluginDatabaseSettings) -> AsyncEngine:
    if settings.ensure_exists and settings.division == "database":
        await _ensure_database(settings)
    own = {"application_name": f"backstage_plugin_{settings.plugin_id}"}
    if settings.schema is not None:
        own["search_path"] = _quote(settings.schema)
    engine = create_async_engine(postgres_url(settings), **_postgres_options(settings, own))
    _prepare(engine, settings)
    if settings.ensure_exists and settings.schema is not None:
        try:
            await ensure_schema(settings, engine)
        except BaseException:
            await engine.dispose()
            raise
    return engine


def create_shared_engine(settings: PluginDatabaseSettings) -> AsyncEngine:
    """One pool for every plugin with these connection settings (pg schema mode).

    A new connection starts with an empty `search_path`, so a session that is not a
    plugin's finds no table; each plugin's view of the engine sets its schema per session.
    """
    from backstage_backend_defaults.database._shared_pool import install_schema_switch

    own = {"application_name": "backstage", "search_path": ""}
    engine = create_async_engine(postgres_url(settings), **_postgres_options(settings, own))
    _prepare(engine, settings)
    install_schema_switch(engine)
    return engine


def create_background_engine(settings: PluginDatabaseSettings) -> AsyncEngine:
    """The pool of a plugin's background work (or, in pg schema mode with a shared pool,
    of the background work of the plugins sharing it), `background_pool_size` connections
    to the database (or schema) the plugin's own engine has already ensured."""
    sized = PluginDatabaseSettings(
        **{**settings.__dict__, "pool_size": settings.background_pool_size}
    )
    if settings.shared_pool:
        return create_shared_engine(sized)
    own = {"application_name": f"backstage_plugin_{settings.plugin_id}"}
    if settings.schema is not None:
        own["search_path"] = _quote(settings.schema)
    engine = create_async_engine(postgres_url(sized), **_postgres_options(sized, own))
    _prepare(engine, sized)
    return engine


def create_probe_engine(settings: PluginDatabaseSettings, *, timeout: float) -> AsyncEngine:
    """A pool of one connection to the plugin's database for readiness probes alone, so
    that a probe never waits behind requests for a connection (a busy pool is not a
    database that is down). It sets no search path: `SELECT 1` needs no table."""
    limits = settings.limits
    probe_limits = DatabaseLimits(
        connect=min(limits.connect or timeout, timeout),
        acquire=timeout,
        statement=timeout,
        query=timeout,
        keepalive=limits.keepalive,
        keepalive_idle=limits.keepalive_idle,
        jit=limits.jit,
    )
    probe_settings = PluginDatabaseSettings(
        **{**settings.__dict__, "pool_size": 1, "limits": probe_limits}
    )
    own = {"application_name": f"backstage_plugin_{settings.plugin_id}_probe"}
    engine = create_async_engine(
        postgres_url(probe_settings), **_postgres_options(probe_settings, own)
    )
    _prepare(engine, probe_settings)
    return engine


def _sqlite_engine(settings: PluginDatabaseSettings) -> AsyncEngine:
    connection = settings.connection
    directory = connection.get("directory")
    filename = connection.get("filename", ":memory:")
    if directory is not None:
        path = Path(directory) / f"{settings.plugin_id}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    elif filename == ":memory:":
        return create_memory_sqlite_engine(settings.plugin_id)
    else:
        raise ServiceUnavailableError(
            f"A SQLite file name ('{filename}') is not supported for plugin "
            f"'{settings.plugin_id}': use connection.directory for one file per plugin"
        )

    @event.listens_for(engine.sync_engine, "connect")
    def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return engine


async def create_plugin_engine(settings: PluginDatabaseSettings) -> AsyncEngine:
    if settings.client == "sqlite":
        return _sqlite_engine(settings)
    return await _postgres_engine(settings)
