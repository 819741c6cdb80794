"""Scheduler test fixtures: schedulers over SQLite in memory and over a real Postgres.

Several schedulers of one `cluster` share the plugin's database like replicas do: on
Postgres each has its own engine (its own connections) to one database with a unique
prefix, dropped afterwards; on SQLite they share the in-memory database of one engine.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from backstage_backend_defaults.database import DatabaseManager
from backstage_backend_defaults.scheduler import PluginTaskScheduler, SchedulerOptions
from backstage_backend_plugin_api import DatabaseService, LoggerService
from backstage_backend_test_utils import CapturingLogger, require_service_url
from backstage_common.config import Config

PLUGIN_ID = "tasks"
FAST = SchedulerOptions(
    poll_interval=timedelta(milliseconds=50),
    janitor_interval=timedelta(milliseconds=100),
    abort_grace_period=timedelta(milliseconds=500),
)


async def _postgres_databases(connection: dict[str, Any], prefix: str) -> list[str]:
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
    finally:
        await admin.close()
    return [row[0] for row in rows]


def _postgres_config() -> dict[str, Any]:
    """`backend.database` for the test server, with a unique database prefix."""
    url = urlsplit(require_service_url("BACKSTAGE_TEST_POSTGRES_URL"))
    connection: dict[str, Any] = {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        **({"password": url.password} if url.password else {}),
    }
    prefix = f"bstest_{uuid.uuid4().hex[:10]}_"
    return {"client": "pg", "connection": connection, "prefix": prefix}


async def _drop_postgres_databases(config: dict[str, Any]) -> None:
    """Drop the databases of the test's own prefix, and no others."""
    connection = config["connection"]
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        for name in await _postgres_databases(connection, config["prefix"]):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def postgres_config() -> AsyncIterator[dict[str, Any]]:
    config = _postgres_config()
    try:
        yield config
    finally:
        await _drop_postgres_databases(config)


class Cluster:
    """Schedulers of one plugin that share its database, as replicas do."""

    def __init__(self, database_config: dict[str, Any]) -> None:
        self.database_config = database_config
        self.postgres = database_config["client"] == "pg"
        self._managers: list[DatabaseManager] = []
        self._schedulers: list[PluginTaskScheduler] = []

    def database(self) -> DatabaseService:
        if not self._managers or self.postgres:
            config = Config.from_data({"backend": {"database": self.database_config}})
            self._managers.append(DatabaseManager(config))
        return self._managers[-1].for_plugin(PLUGIN_ID)

    def scheduler(
        self, *, logger: LoggerService | None = None, options: SchedulerOptions = FAST
    ) -> PluginTaskScheduler:
        scheduler = PluginTaskScheduler(
            plugin_id=PLUGIN_ID,
            database=self.database(),
            logger=logger or CapturingLogger("none"),
            options=options,
        )
        self._schedulers.append(scheduler)
        return scheduler

    async def close(self) -> None:
        await asyncio.gather(*(scheduler.shutdown() for scheduler in self._schedulers))
        await asyncio.gather(*(manager.close() for manager in self._managers))


@pytest.fixture(params=["sqlite", "postgres"])
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    """Schedulers over SQLite in memory, then over Postgres."""
    postgres = request.param == "postgres"
    config = _postgres_config() if postgres else {"client": "sqlite3", "connection": ":memory:"}
    cluster = Cluster(config)
    try:
        yield cluster
    finally:
        await cluster.close()
        if postgres:
            await _drop_postgres_databases(config)


@pytest.fixture
async def postgres_cluster() -> AsyncIterator[Cluster]:
    config = _postgres_config()
    cluster = Cluster(config)
    try:
        yield cluster
    finally:
        await cluster.close()
        await _drop_postgres_databases(config)
