"""Running one plugin's Alembic migrations against that plugin's database only.

A plugin ships a folder of Alembic revision files (its `versions/`); no `env.py` is needed:
the runner configures Alembic itself, with the version table in the plugin's own database
(its own schema in schema mode). On Postgres the run holds an advisory lock, so replicas that
start together migrate once: the others wait, then find the head of a linear history without
Alembic (a unit's workers on a new database import it in one process, not in each).

A database already at the head of a linear history (every start of a unit but the first)
costs one `SELECT` of its version: the head is read from the revision files' assignments,
and neither Alembic nor the lock is needed. Any other history goes through Alembic.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import hashlib
import re
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backstage_backend_plugin_api import DatabaseService

if TYPE_CHECKING:  # Alembic and SQLAlchemy load only when a plugin migrates
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

__all__ = [
    "MIGRATIONS_VERSION_TABLE",
    "linear_head",
    "migration_history",
    "migration_revisions",
    "run_migrations",
]

MIGRATIONS_VERSION_TABLE = "backstage_migrations_version"

# Alembic's `op` and `context`, which revision files import, are process-wide proxies to
# the migration that runs now: two plugins migrating at once in one process would send
# each other's DDL to the wrong database. Runs in one event loop therefore take turns.
_ALEMBIC_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


_ASSIGNMENT = re.compile(
    r"^(revision|down_revision|branch_labels|depends_on)\s*(?::[^=\n]*)?=\s*(.+?)\s*$",
    re.MULTILINE,
)


def linear_head(versions: Path) -> str | None:
    """The head revision of the files in `versions` when they form one line (each revision
    has one parent or none, no branch labels or dependencies), read without Alembic; None
    for any other history, or a file whose assignments are not plain literals.

    Args:
        versions: The plugin's folder of Alembic revision files.
    """
    parents: dict[str, str | None] = {}
    for file in versions.iterdir():
        # the files Alembic reads as revisions: sources, but neither `__init__` nor editor locks
        if file.suffix != ".py" or file.name.startswith(("__init__", ".#")):
            continue
        try:
            values = {
                name: ast.literal_eval(value)
                for name, value in _ASSIGNMENT.findall(file.read_text(encoding="utf-8"))
            }
        except (ValueError, SyntaxError):
            return None
        revision = values.get("revision")
        parent = values.get("down_revision")
        if (
            not isinstance(revision, str)
            or revision in parents
            or not (parent is None or isinstance(parent, str))
            or values.get("branch_labels") is not None
            or values.get("depends_on") is not None
        ):
            return None
        parents[revision] = parent
    heads = set(parents) - set(parents.values())
    if len(heads) != 1 or sum(parent is None for parent in parents.values()) != 1:
        return None
    return heads.pop()


async def _at_revision(database: DatabaseService, revision: str) -> bool:
    """Whether the plugin's database records `revision` as its only version (False when it
    has no version table yet)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = await database.get_engine()
    async with engine.connect() as connection:
        try:
            rows = await connection.execute(
                text(f"SELECT version_num FROM {MIGRATIONS_VERSION_TABLE}")
            )
        except DBAPIError:  # no version table: a new database
            return False
        return [row[0] for row in rows] == [revision]


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
    database: DatabaseService,
    plugin_id: str,
    work: Callable[[Connection], None],
    done: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    """Run `work` on a connection of the plugin's database, holding its migration lock on
    Postgres; `done`, asked once the lock is held there, may find that another process
    did the work meanwhile (replicas that start together: one migrates, the others wait
    for its lock and then skip Alembic altogether, import included)."""
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
            if postgres and done is not None and await done():
                return
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
    done: Callable[[], Awaitable[bool]] | None = None
    if target == "head" and not downgrade:
        head = linear_head(versions)
        if head is not None:
            if await _at_revision(database, head):
                return True
            done = functools.partial(_at_revision, database, head)

    def apply(script: Any, revision: Any) -> Any:
        if downgrade:
            return script._downgrade_revs(target, revision)
        return script._upgrade_revs(target, revision)

    await _with_lock(
        database, plugin_id, lambda connection: _run(connection, versions, apply), done
    )
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
