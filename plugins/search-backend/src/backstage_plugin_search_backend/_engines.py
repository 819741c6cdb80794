"""Which engine the plugin uses: one set by a module, else `search.engine`."""

from __future__ import annotations

from backstage_backend_plugin_api import DatabaseService, LoggerService, RootConfigService
from backstage_common.errors import ConflictError
from backstage_plugin_search_node import SearchEngine

from backstage_plugin_search_backend._settings import SearchSettings
from backstage_plugin_search_backend.engines.memory import MemorySearchEngine
from backstage_plugin_search_backend.engines.postgres import (
    MIGRATIONS,
    PostgresSearchEngine,
    read_pg_options,
)

__all__ = ["PLUGIN_ID", "EngineRegistry", "create_engine"]

PLUGIN_ID = "search"


class EngineRegistry:
    """The `search.engine.registry` extension point."""

    def __init__(self) -> None:
        self.engine: SearchEngine | None = None

    def set_search_engine(self, engine: SearchEngine) -> None:
        if self.engine is not None:
            raise ConflictError("Multiple Search engines is not supported at this time")
        self.engine = engine


async def create_engine(
    settings: SearchSettings,
    config: RootConfigService,
    database: DatabaseService,
    logger: LoggerService,
) -> SearchEngine:
    """The in-memory engine, or with `search.engine: postgres` the Postgres engine on the
    plugin's own database (migrated first); a database that is not Postgres falls back to
    the in-memory engine with a warning, as Backstage's Postgres module does."""
    if settings.engine == "memory":
        return MemorySearchEngine(logger)
    engine = await database.get_engine()
    if engine.dialect.name != "postgresql":
        logger.warn(
            "search.engine is postgres but the search plugin's database is "
            f"{engine.dialect.name}; falling back to the in-memory engine"
        )
        return MemorySearchEngine(logger)
    await database.migrate(MIGRATIONS)
    return PostgresSearchEngine(engine, logger, read_pg_options(config))
