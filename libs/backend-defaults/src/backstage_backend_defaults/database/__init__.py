"""core.database: a logical database per plugin.

Config `backend.database`: `client` (`pg`, or `better-sqlite3`/`sqlite3`, the default),
`connection` (a URL string or `{host, port, user, password, database, ssl}`; SQLite:
`':memory:'` or `{directory}` for one `<pluginId>.sqlite` file per plugin), `prefix`
(`backstage_plugin_`), `pluginDivisionMode` (`database` or `schema`), `schemaPrefix`,
`ensureExists` (true), `skipMigrations`, `pool.max` (10 connections, as Backstage's, per
plugin or for a shared pool; Backstage's `knexConfig.pool.max` too), `sharedPool` (true: in
schema mode the plugins share one pool, see `_shared_pool`), and per-plugin overrides under
`plugin.<pluginId>`. Limits (`_settings.DatabaseLimits`): `acquireConnectionTimeout`,
`connection.{connectionTimeoutMillis, statement_timeout, query_timeout, keepAlive,
keepAliveInitialDelayMillis}` and `jit`, also per plugin. Engines are created on first use,
so a plugin that never touches its database opens nothing, and are disposed at shutdown
(by force past `DISPOSE_SECONDS`). Every plugin database in use is probed by readiness,
through a connection of its own. On SQLite the write transactions of a plugin (from
`PluginDatabase.transaction`, whoever takes them: the plugin, its scheduler) take turns on
one lock per plugin, the only such lock in the backend.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from backstage_backend_plugin_api import (
    DatabaseMigrationsOptions,
    EnginePurpose,
    RootConfigService,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core

from backstage_backend_defaults.database._hooks import DATABASE_HOOKS, DatabaseHooks
from backstage_backend_defaults.database._migrations import (
    MIGRATIONS_VERSION_TABLE,
    migration_history,
    migration_revisions,
    run_migrations,
)
from backstage_backend_defaults.database._settings import (
    PluginDatabaseSettings,
    read_plugin_settings,
)
from backstage_backend_defaults.database._unavailable import (
    DatabaseUnavailableError,
    as_unavailable,
)
from backstage_backend_defaults.health import ReadinessChecks
from backstage_backend_defaults.instrumentation import InstrumentationDep
from backstage_backend_defaults.lifecycle import BackendLifecycle

if TYPE_CHECKING:  # SQLAlchemy and asyncpg load only when a plugin uses its database
    from sqlalchemy.ext.asyncio import (
        AsyncConnection,
        AsyncEngine,
        AsyncSession,
        async_sessionmaker,
    )

__all__ = [
    "DATABASE_HOOKS",
    "DISPOSE_SECONDS",
    "MIGRATIONS_VERSION_TABLE",
    "DatabaseHooks",
    "DatabaseManager",
    "DatabaseUnavailableError",
    "PluginDatabase",
    "PluginDatabaseSettings",
    "as_unavailable",
    "create_memory_sqlite_engine",
    "database_service_factory",
    "migration_history",
    "migration_revisions",
    "read_plugin_settings",
    "run_migrations",
]


DISPOSE_SECONDS = 2.0
"""How long closing the pools at shutdown waits for the server to acknowledge."""


def create_memory_sqlite_engine(name: str) -> AsyncEngine:
    """An engine on a new in-memory SQLite database that lives as long as the engine; safe
    under concurrent sessions (they take turns on one connection)."""
    from backstage_backend_defaults.database._sqlite_memory import (
        create_memory_sqlite_engine as create,
    )

    return create(name)


class PluginDatabase:
    """A plugin's `DatabaseService`: its engine, created (and its database ensured) lazily."""

    def __init__(self, manager: DatabaseManager, settings: PluginDatabaseSettings) -> None:
        self._manager = manager
        self.settings = settings
        self._migrations = DatabaseMigrationsOptions(skip=settings.skip_migrations)

    @property
    def migrations(self) -> DatabaseMigrationsOptions:
        return self._migrations

    async def get_engine(self, *, purpose: EnginePurpose = "requests") -> AsyncEngine:
        if purpose == "background":
            return await self._manager.background_engine(self.settings)
        return await self._manager.engine(self.settings)

    async def get_session_factory(self) -> async_sessionmaker[AsyncSession]:
        from sqlalchemy.ext.asyncio import async_sessionmaker

        return async_sessionmaker(await self.get_engine(), expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def transaction(
        self, *, purpose: EnginePurpose = "requests"
    ) -> AsyncIterator[AsyncConnection]:
        engine = await self.get_engine(purpose=purpose)
        turn = self._manager.write_turn(self.settings)
        if turn is None:
            async with engine.begin() as connection:
                yield connection
            return
        async with turn, engine.begin() as connection:
            yield connection

    async def migrate(self, versions: Path) -> bool:
        return await run_migrations(self, versions, plugin_id=self.settings.plugin_id)


class DatabaseManager:
    """The plugins' engines, each built once even when asked for concurrently.

    In pg schema mode (unless `sharedPool: false`) plugins with the same connection share
    one engine, and so one pool: each gets a view of it confined to its own schema.
    """

    def __init__(self, config: RootConfigService, hooks: DatabaseHooks | None = None) -> None:
        self._config = config
        self._hooks = hooks
        self._engines: dict[str, asyncio.Task[AsyncEngine]] = {}
        self._settings: dict[str, PluginDatabaseSettings] = {}
        self._shared: dict[tuple[str, ...], AsyncEngine] = {}
        self._probe_engines: dict[tuple[str, ...], AsyncEngine] = {}
        self._background_pools: dict[tuple[str, ...], AsyncEngine] = {}
        self._background: dict[str, AsyncEngine] = {}
        self._write_turns: dict[str, asyncio.Lock] = {}

    def for_plugin(self, plugin_id: str) -> PluginDatabase:
        return PluginDatabase(self, read_plugin_settings(self._config, plugin_id))

    async def engine(self, settings: PluginDatabaseSettings) -> AsyncEngine:
        task = self._engines.get(settings.plugin_id)
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = asyncio.ensure_future(self._create_engine(settings))
            self._engines[settings.plugin_id] = task
            self._settings[settings.plugin_id] = settings
        # a caller that gives up (a timeout) must not cancel the creation others await
        return await asyncio.shield(task)

    async def _create_engine(self, settings: PluginDatabaseSettings) -> AsyncEngine:
        from backstage_backend_defaults.database._engines import (
            create_plugin_engine,
            create_shared_engine,
            ensure_schema,
        )
        from backstage_backend_defaults.database._shared_pool import plugin_view

        if not settings.shared_pool:
            engine = await create_plugin_engine(settings)
            self._trace(settings, engine, shared=False)
            self._measure(settings, engine, shared=False)
            return engine
        assert settings.schema is not None
        shared = self._shared.get(settings.pool_key())
        if shared is None:
            shared = self._shared[settings.pool_key()] = create_shared_engine(settings)
            self._trace(settings, shared, shared=True)
        self._measure(settings, shared, shared=True)
        view = plugin_view(shared, schema=settings.schema, plugin_id=settings.plugin_id)
        if settings.ensure_exists:
            await ensure_schema(settings, view)
        return view

    def write_turn(self, settings: PluginDatabaseSettings) -> asyncio.Lock | None:
        """The lock a plugin's SQLite write transactions take turns on, one per plugin
        whichever of its services writes (SQLite has one writer at a time; in memory, one
        connection); None on Postgres, where writers run concurrently."""
        if settings.client != "sqlite":
            return None
        return self._write_turns.setdefault(settings.plugin_id, asyncio.Lock())

    async def background_engine(self, settings: PluginDatabaseSettings) -> AsyncEngine:
        """The plugin's engine for its background work: the same database, from a pool of
        `backgroundPool.max` connections of its own (shared like the requests' pool), so
        that requests cannot starve processing of connections, nor processing requests."""
        engine = await self.engine(settings)  # the database (or schema) is ensured there
        if settings.client == "sqlite":
            return engine  # one connection (in memory) or a file: no pool to keep apart
        view = self._background.get(settings.plugin_id)
        if view is not None:
            return view
        from backstage_backend_defaults.database._engines import create_background_engine
        from backstage_backend_defaults.database._shared_pool import plugin_view

        key = settings.pool_key() if settings.shared_pool else (settings.plugin_id,)
        pool = self._background_pools.get(key)
        if pool is None:
            pool = self._background_pools[key] = create_background_engine(settings)
            self._trace(settings, pool, shared=settings.shared_pool)
        if settings.shared_pool:
            assert settings.schema is not None
            view = plugin_view(pool, schema=settings.schema, plugin_id=settings.plugin_id)
        else:
            view = pool
        self._background[settings.plugin_id] = view
        return view

    def _trace(
        self, settings: PluginDatabaseSettings, engine: AsyncEngine, *, shared: bool
    ) -> None:
        """The hooks told of a new engine (a shared one's statements are tagged per
        statement)."""
        if self._hooks is None:
            return
        self._hooks.engine_created(
            engine.sync_engine,
            system="sqlite" if settings.client == "sqlite" else "postgresql",
            database=settings.database_name or settings.plugin_id,
            plugin_id=None if shared else settings.plugin_id,
        )

    def _measure(
        self, settings: PluginDatabaseSettings, engine: AsyncEngine, *, shared: bool
    ) -> None:
        """The hooks told of the plugin's pool (the pool metrics)."""
        if self._hooks is not None:
            self._hooks.pool_in_use(settings.plugin_id, engine.sync_engine.pool, shared=shared)

    def _probe_engine(self, settings: PluginDatabaseSettings) -> AsyncEngine:
        """The engine readiness probes the plugin's database with: a pool of its own, one
        per pool (plugins sharing a pool share its probe), SQLite's own engine."""
        if settings.client == "sqlite":
            task = self._engines[settings.plugin_id]
            return task.result()
        from backstage_backend_defaults.database._engines import create_probe_engine
        from backstage_backend_defaults.database._health import PROBE_TIMEOUT_SECONDS

        key = settings.pool_key() if settings.shared_pool else (settings.plugin_id,)
        engine = self._probe_engines.get(key)
        if engine is None:
            engine = create_probe_engine(settings, timeout=PROBE_TIMEOUT_SECONDS)
            self._probe_engines[key] = engine
        return engine

    async def readiness_problems(self) -> list[str]:
        """One line for each plugin whose database cannot be reached now; only plugins that
        have used their database are probed."""
        from backstage_backend_defaults.database._health import probe

        settings = list(self._settings.values())
        results = await asyncio.gather(
            *(probe(self.engine, self._probe_engine, each) for each in settings)
        )
        return [problem for problem in results if problem is not None]

    def _all_engines(self) -> list[AsyncEngine]:
        engines = [
            task.result()
            for plugin_id, task in self._engines.items()
            if not self._settings[plugin_id].shared_pool
            and task.done()
            and not task.cancelled()
            and task.exception() is None
        ]
        engines.extend(self._shared.values())
        engines.extend(self._probe_engines.values())
        engines.extend(self._background_pools.values())
        return engines

    def terminate(self) -> None:
        """At the shutdown deadline: end every connection now and open none, so that all
        work still waiting on the database (requests being cancelled, shutdown hooks)
        fails at once instead of waiting for a server that may never answer."""
        from backstage_backend_defaults.database._engines import terminate_connections

        for engine in self._all_engines():
            terminate_connections(engine, for_good=True)

    async def close(self) -> None:
        """Close every pool, within `DISPOSE_SECONDS` whatever the database does: a pool
        whose server does not answer has its connections terminated instead."""
        from backstage_backend_defaults.database._engines import dispose_within

        engines = self._all_engines()
        for task in self._engines.values():
            if not task.done():
                task.cancel()  # an engine still being created (its database unreachable)
        self._background_pools.clear()
        self._background.clear()
        self._engines.clear()
        self._settings.clear()
        self._shared.clear()
        self._probe_engines.clear()
        if self._hooks is not None:
            self._hooks.pools_closed()
        await asyncio.gather(*(dispose_within(engine, DISPOSE_SECONDS) for engine in engines))


def _create_manager(
    config: core.RootConfig,
    lifecycle: core.RootLifecycle,
    health: core.RootHealth,
    instrumentation: InstrumentationDep,
) -> DatabaseManager:
    manager = DatabaseManager(config, instrumentation.get(DATABASE_HOOKS))
    lifecycle.add_shutdown_hook(manager.close)
    if isinstance(lifecycle, BackendLifecycle):
        lifecycle.add_shutdown_deadline_callback(manager.terminate)
    if isinstance(health, ReadinessChecks):
        health.add_readiness_check(manager.readiness_problems)
    return manager


def _plugin_database(manager: DatabaseManager, metadata: core.PluginMetadata) -> PluginDatabase:
    return manager.for_plugin(metadata.get_id())


database_service_factory = create_service_factory(
    service=core.database, factory=_plugin_database, create_root_context=_create_manager
)
