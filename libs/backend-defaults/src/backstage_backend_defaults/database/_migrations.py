"""Running one plugin's Alembic migrations against that plugin's database only.

A plugin ships a folder of Alembic revision files (its `versions/`); no `env.py` is needed:
the runner configures Alembic itself, with the version table in the plugin's own database
(its own schema in schema mode). On Postgres the run holds an advisory lock, so replicas that
start together migrate once: the others wait, then find nothing left to do.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backstage_backend_plugin_api import DatabaseService

if TYPE_CHECKING:  # Alembic and SQLAlchemy load only when a plugin migrates
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

__all__ = ["MIGRATIONS_VERSION_TABLE", "migration_history", "migration_revisions", "run_migrations"]

MIGRATIONS_VERSION_TABLE = "backstage_migrations_version"

# Alembic's `op` and `context`, which revision files import, are process-wide proxies to
# the migration that runs now: two plugins migrating at once in one process would send
# each other's DDL to the wrong database. Runs in one event loop therefore take turns.
_ALEMBIC_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _alembic_turn() -> asyncio.Lock:
    return _ALEMBIC_TURNS.setdefault(asyncio.get_running_loop(), asyncio.Lock())


def _lock_key(plugin_id: str) -> int:
    digest = hashlib.sha256(f"backstage-py migrations {plugin_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _scripts(versions: Path) -> tuple[AlembicConfig, ScriptDirectory]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("path_separator", "os")
    config.set_main_option("script_location", str(versions.parent))
    config.set_main_option("version_locations", str(versions))
    return config, ScriptDirectory.from_config(config)


def _run(connection: Connection, versions: Path, apply: Callable[[Any, Any], Any]) -> None:
    from alembic.runtime.environment import EnvironmentContext

    config, script = _scripts(versions)
    with EnvironmentContext(config, script, fn=lambda rev, ctx: apply(script, rev)) as env:
        env.configure(connection=connection, version_table=MIGRATIONS_VERSION_TABLE)
        with env.begin_transaction():
            env.run_migrations()


async def _with_lock(
    database: DatabaseService, plugin_id: str, work: Callable[[Connection], None]
) -> None:
    from sqlalchemy import text

    from backstage_backend_defaults.database._unbounded import without_statement_limits

    engine = await database.get_engine()
    async with engine.connect() as connection, without_statement_limits(connection):
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            await connection.execute(
                text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key(plugin_id)}
            )
            await connection.commit()
        try:
            async with _alembic_turn():
                await connection.run_sync(work)
            await connection.commit()
        finally:
            if postgres:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(plugin_id)}
                )
                await connection.commit()


async def run_migrations(
    database: DatabaseService,
    versions: Path,
    *,
    plugin_id: str,
    target: str = "head",
    downgrade: bool = False,
) -> bool:
    """Upgrade (or downgrade) the plugin's database to `target`; False when
    `skipMigrations` is set and nothing ran."""
    if database.migrations.skip:
        return False

    def apply(script: Any, revision: Any) -> Any:
        if downgrade:
            return script._downgrade_revs(target, revision)
        return script._upgrade_revs(target, revision)

    await _with_lock(database, plugin_id, lambda connection: _run(connection, versions, apply))
    return True


def migration_revisions(versions: Path) -> list[str]:
    """The revisions in `versions`, oldest first, read from the files alone (no database)."""
    _, script = _scripts(versions)
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


async def migration_history(database: DatabaseService, versions: Path) -> list[tuple[str, bool]]:
    """Every revision, oldest first, with whether it is applied to the plugin's database."""
    from alembic.runtime.migration import MigrationContext

    _, script = _scripts(versions)
    engine = await database.get_engine()

    def current(connection: Connection) -> set[str]:
        context = MigrationContext.configure(
            connection, opts={"version_table": MIGRATIONS_VERSION_TABLE}
        )
        heads = context.get_current_heads()
        applied: set[str] = set()
        for head in heads:
            applied.update(rev.revision for rev in script.iterate_revisions(head, "base"))
        return applied

    async with engine.connect() as connection:
        applied = await connection.run_sync(current)
    revisions = list(reversed(list(script.walk_revisions())))
    return [(rev.revision, rev.revision in applied) for rev in revisions]
