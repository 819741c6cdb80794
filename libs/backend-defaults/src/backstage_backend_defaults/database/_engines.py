"""Creating a plugin's engine: ensuring its Postgres database or schema, or its SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
from backstage_common.errors import ServiceUnavailableError
from sqlalchemy import URL, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from backstage_backend_defaults.database._settings import PluginDatabaseSettings
from backstage_backend_defaults.database._sqlite_memory import create_memory_sqlite_engine

__all__ = [
    "create_plugin_engine",
    "create_shared_engine",
    "ensure_schema",
    "postgres_url",
    "unreachable",
]

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
    cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    return ServiceUnavailableError(
        f"Failed to connect to the database at {where} to make sure that {what} for plugin "
        f"'{settings.plugin_id}': {type(cause).__name__}: {cause}"
    )


_CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, DBAPIError)


async def _admin_connect(settings: PluginDatabaseSettings, database: str) -> Any:
    connection = settings.connection
    try:
        return await asyncpg.connect(
            host=connection.get("host", "localhost"),
            port=int(connection.get("port", 5432)),
            user=connection.get("user"),
            password=connection.get("password"),
            database=database,
            ssl=connection.get("ssl"),
            timeout=10,
        )
    except _CONNECT_ERRORS as error:
        raise unreachable(settings, error) from error


async def _ensure_database(settings: PluginDatabaseSettings) -> None:
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
    except _CONNECT_ERRORS as error:
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


def _connect_args(settings: PluginDatabaseSettings, server_settings: dict[str, str]) -> Any:
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    if settings.connection.get("ssl") is not None:
        connect_args["ssl"] = settings.connection["ssl"]
    return connect_args


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
    server_settings = {"application_name": f"backstage_plugin_{settings.plugin_id}"}
    if settings.schema is not None:
        server_settings["search_path"] = _quote(settings.schema)
    engine = create_async_engine(
        postgres_url(settings),
        pool_size=settings.pool_size,
        max_overflow=0,
        connect_args=_connect_args(settings, server_settings),
    )
    _check_on_checkout(engine)
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

    engine = create_async_engine(
        postgres_url(settings),
        pool_size=settings.pool_size,
        max_overflow=0,
        connect_args=_connect_args(settings, {"application_name": "backstage", "search_path": ""}),
    )
    _check_on_checkout(engine)
    install_schema_switch(engine)
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
