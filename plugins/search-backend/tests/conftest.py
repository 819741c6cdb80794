"""Fixtures: both engines over one contract, and a Postgres database of its own per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from backstage_backend_defaults.database import DatabaseManager, run_migrations
from backstage_backend_test_utils import CapturingLogger, require_service_url
from backstage_common.config import Config
from backstage_plugin_search_backend import MemorySearchEngine, PostgresSearchEngine
from backstage_plugin_search_backend.engines.postgres import MIGRATIONS, PgOptions
from backstage_plugin_search_node import SearchEngine


async def _drop_databases(connection: dict[str, Any], prefix: str) -> None:
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
        for row in rows:
            await admin.execute(f'DROP DATABASE IF EXISTS "{row[0]}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def postgres_database_config() -> AsyncIterator[dict[str, Any]]:
    """`backend.database` for databases of their own on the test Postgres, dropped after."""
    url = urlsplit(require_service_url("BACKSTAGE_TEST_POSTGRES_URL"))
    connection = {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        **({"password": url.password} if url.password else {}),
    }
    prefix = f"bstest_{uuid.uuid4().hex[:10]}_"
    try:
        yield {"client": "pg", "connection": connection, "prefix": prefix}
    finally:
        await _drop_databases(connection, prefix)


@pytest.fixture
async def postgres_database() -> AsyncIterator[dict[str, Any]]:
    async with postgres_database_config() as config:
        yield config


@pytest.fixture(params=["memory", "postgres"])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[SearchEngine]:
    """Each engine, fresh: in memory, or on a migrated database of the test Postgres."""
    logger = CapturingLogger()
    if request.param == "memory":
        yield MemorySearchEngine(logger)
        return
    async with postgres_database_config() as database:
        manager = DatabaseManager(Config.from_data({"backend": {"database": database}}))
        try:
            plugin_database = manager.for_plugin("search")
            await run_migrations(plugin_database, MIGRATIONS, plugin_id="search")
            yield PostgresSearchEngine(await plugin_database.get_engine(), logger, PgOptions())
        finally:
            await manager.close()
