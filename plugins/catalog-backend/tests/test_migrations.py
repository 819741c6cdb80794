"""The catalog's migrations create exactly the tables the code uses, and can be undone."""

from __future__ import annotations

import warnings
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from backstage_backend_defaults.database import DatabaseManager, run_migrations
from backstage_backend_plugin_api import DatabaseService
from backstage_common.config import Config
from backstage_plugin_catalog_backend import MIGRATIONS
from backstage_plugin_catalog_backend._tables import metadata

# An expression index (the kind of each ref, then the ref) that the queries reach through
# `ref_kind`, not through the table metadata; SQLite's reflection skips it with a warning.
_EXPRESSION_INDEX = "final_entities_kind_ref_idx"


def _differences(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(connection)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", f".*expression-based index {_EXPRESSION_INDEX}")
        differences = compare_metadata(context, metadata)
    return [
        diff
        for diff in differences
        # the migrations' own version table is not among the catalog's tables
        if not (diff[0] == "remove_table" and diff[1].name == "backstage_migrations_version")
        and not (diff[0] == "remove_index" and diff[1].name == _EXPRESSION_INDEX)
    ]


def _has_expression_index(connection: sa.Connection) -> bool:
    if connection.dialect.name == "postgresql":
        query = "SELECT count(*) FROM pg_indexes WHERE indexname = :name"
    else:
        query = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = :name"
    return connection.execute(sa.text(query), {"name": _EXPRESSION_INDEX}).scalar_one() == 1


def _tables(connection: sa.Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names()) - {"backstage_migrations_version"}


async def _database(database_config: dict[str, Any]) -> tuple[DatabaseManager, DatabaseService]:
    manager = DatabaseManager(Config.from_data({"backend": {"database": database_config}}))
    return manager, manager.for_plugin("catalog")


async def test_migrations_match_the_tables_and_downgrade_to_nothing(
    database_config: dict[str, Any],
) -> None:
    manager, database = await _database(database_config)
    try:
        await run_migrations(database, MIGRATIONS, plugin_id="catalog")
        engine = await database.get_engine()
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            assert await connection.run_sync(_tables) == set(metadata.tables)
            assert await connection.run_sync(_has_expression_index)
        await run_migrations(
            database, MIGRATIONS, plugin_id="catalog", target="base", downgrade=True
        )
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()
    finally:
        await manager.close()
