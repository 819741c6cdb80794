"""The Postgres search engine, chosen with `search.engine: postgres`."""

from backstage_plugin_search_backend.engines.postgres._engine import (
    MIGRATIONS,
    PostgresSearchEngine,
)
from backstage_plugin_search_backend.engines.postgres._options import PgOptions, read_pg_options

__all__ = ["MIGRATIONS", "PgOptions", "PostgresSearchEngine", "read_pg_options"]
