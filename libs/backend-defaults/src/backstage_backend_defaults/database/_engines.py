"""Creating a plugin's engine: ensuring its Postgres database or schema, or its SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
from backstage_common.errors import ServiceUnavailableError
from sqlalchemy import URL, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from backstage_backend_defaults.database._settings import PluginDatabaseSettings

__all__ = ["create_plugin_engine"]

# SQLSTATEs that mean "someone else created it first": duplicate database, unique violation
_ALREADY_CREATED = ("42P04", "23505", "42P06")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


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
    except (OSError, asyncpg.PostgresError) as error:
        where = f"{connection.get('host', 'localhost')}:{connection.get('port', 5432)}"
        raise ServiceUnavailableError(
            f"Failed to connect to the database at {where} to make sure that "
            f"'{settings.database_name}' exists for plugin '{settings.plugin_id}': "
            f"{type(error).__name__}: {error}"
        ) from error


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


async def _ensure_schema(settings: PluginDatabaseSettings) -> None:
    assert settings.database_name is not None
    assert settings.schema is not None
    connection = await _admin_connect(settings, settings.database_name)
    try:
        try:
            await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(settings.schema)}")
        except asyncpg.PostgresError as error:
            if getattr(error, "sqlstate", None) not in _ALREADY_CREATED:
                raise
    finally:
        await connection.close()


async def _postgres_engine(settings: PluginDatabaseSettings) -> AsyncEngine:
    if settings.ensure_exists:
        if settings.division == "schema":
            await _ensure_schema(settings)
        else:
            await _ensure_database(settings)
    connection = settings.connection
    url = URL.create(
        "postgresql+asyncpg",
        username=connection.get("user"),
        password=connection.get("password"),
        host=connection.get("host", "localhost"),
        port=int(connection.get("port", 5432)),
        database=settings.database_name,
    )
    server_settings = {"application_name": f"backstage_plugin_{settings.plugin_id}"}
    if settings.schema is not None:
        server_settings["search_path"] = settings.schema
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    if connection.get("ssl") is not None:
        connect_args["ssl"] = connection["ssl"]
    return create_async_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def _sqlite_engine(settings: PluginDatabaseSettings) -> AsyncEngine:
    connection = settings.connection
    directory = connection.get("directory")
    filename = connection.get("filename", ":memory:")
    if directory is not None:
        path = Path(directory) / f"{settings.plugin_id}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    elif filename == ":memory:":
        # one connection kept for the engine's life: the in-memory database lives with it
        engine = create_async_engine(
            "sqlite+aiosqlite://",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
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
