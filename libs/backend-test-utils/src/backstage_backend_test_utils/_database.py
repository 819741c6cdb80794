"""Mock `core.database`: a private in-memory SQLite database per plugin (aiosqlite)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from backstage_backend_defaults.database import create_memory_sqlite_engine, run_migrations
from backstage_backend_plugin_api import (
    DatabaseMigrationsOptions,
    DatabaseService,
    EnginePurpose,
    ServiceFactory,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import ConflictError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

__all__ = ["InMemoryDatabaseManager", "InMemoryDatabaseService", "mock_database_factory"]


class InMemoryDatabaseService:
    """One plugin's database; the engine is created on first use and kept until `dispose`."""

    def __init__(self, plugin_id: str = "test", *, skip_migrations: bool = False) -> None:
        self.plugin_id = plugin_id
        self._migrations = DatabaseMigrationsOptions(skip=skip_migrations)
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._write_turn = asyncio.Lock()
        self._disposed = False

    @property
    def migrations(self) -> DatabaseMigrationsOptions:
        return self._migrations

    async def get_engine(self, *, purpose: EnginePurpose = "requests") -> AsyncEngine:
        """The one engine, whatever the purpose: an in-memory database has one connection."""
        if self._disposed:
            raise ConflictError(f"The database of plugin '{self.plugin_id}' has been disposed")
        if self._engine is None:
            self._engine = create_memory_sqlite_engine(self.plugin_id)
        return self._engine

    async def get_session_factory(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            self._sessions = async_sessionmaker(await self.get_engine(), expire_on_commit=False)
        return self._sessions

    @contextlib.asynccontextmanager
    async def transaction(
        self, *, purpose: EnginePurpose = "requests"
    ) -> AsyncIterator[AsyncConnection]:
        """A write transaction; like the real SQLite database, writers take turns."""
        engine = await self.get_engine(purpose=purpose)
        async with self._write_turn, engine.begin() as connection:
            yield connection

    async def migrate(self, versions: Path) -> bool:
        return await run_migrations(self, versions, plugin_id=self.plugin_id)

    async def dispose(self) -> None:
        """Close the connection; the database and its data are gone afterwards."""
        self._disposed = True
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None:
            await engine.dispose()


class InMemoryDatabaseManager:
    """The databases of one backend, disposed together at root shutdown."""

    def __init__(self, *, skip_migrations: bool = False) -> None:
        self._skip_migrations = skip_migrations
        self._databases: dict[str, InMemoryDatabaseService] = {}

    def for_plugin(self, plugin_id: str) -> InMemoryDatabaseService:
        database = self._databases.get(plugin_id)
        if database is None:
            database = InMemoryDatabaseService(plugin_id, skip_migrations=self._skip_migrations)
            self._databases[plugin_id] = database
        return database

    async def dispose_all(self) -> None:
        databases = list(self._databases.values())
        self._databases.clear()
        await asyncio.gather(*(database.dispose() for database in databases))


def mock_database_factory(*, skip_migrations: bool = False) -> ServiceFactory[DatabaseService]:
    """Each plugin gets its own in-memory SQLite database, disposed at root shutdown."""

    def create_root(lifecycle: core.RootLifecycle) -> InMemoryDatabaseManager:
        manager = InMemoryDatabaseManager(skip_migrations=skip_migrations)
        lifecycle.add_shutdown_hook(manager.dispose_all)
        return manager

    def create(manager: InMemoryDatabaseManager, metadata: core.PluginMetadata) -> DatabaseService:
        return manager.for_plugin(metadata.get_id())

    return create_service_factory(
        service=core.database, factory=create, create_root_context=create_root
    )
