"""Fixtures: both engines over one contract, and a Postgres database of its own per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from backstage_backend_defaults.database import DatabaseManager
from backstage_backend_test_utils import (
    CapturingLogger,
    postgres_database_config,
)
from backstage_common.config import Config
from backstage_plugin_search_backend import MemorySearchEngine, PostgresSearchEngine
from backstage_plugin_search_backend.engines.postgres import MIGRATIONS, PgOptions
from backstage_plugin_search_node import SearchEngine


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
            await plugin_database.migrate(MIGRATIONS)
            yield PostgresSearchEngine(await plugin_database.get_engine(), logger, PgOptions())
        finally:
            await manager.close()
