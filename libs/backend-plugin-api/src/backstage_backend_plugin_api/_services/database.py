"""core.database: each plugin's own logical database."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

if TYPE_CHECKING:  # SQLAlchemy loads only in processes whose plugins use a database
    from sqlalchemy.ext.asyncio import (
        AsyncConnection,
        AsyncEngine,
        AsyncSession,
        async_sessionmaker,
    )

__all__ = ["DatabaseMigrationsOptions", "DatabaseService", "EnginePurpose"]

EnginePurpose: TypeAlias = Literal["requests", "background"]
"""`requests`: work a request waits for. `background`: the plugin's own loops (processing,
indexing), from connections of their own, so that neither starves the other under load."""


@dataclass(frozen=True)
class DatabaseMigrationsOptions:
    """How the plugin's migrations are to be handled (Backstage's `migrations` option).

    Args:
        skip: True when `skipMigrations` is set: the plugin must not migrate its database
            (`DatabaseService.migrate` then does nothing).
    """

    skip: bool = False


class DatabaseService(Protocol):
    """A plugin's database: an async SQLAlchemy engine bound to that plugin alone.

    Write through `transaction()` rather than `get_engine()` directly: it is the one place
    where writers are kept from tripping over each other (SQLite allows one writer at a
    time, so the service serialises the plugin's write transactions there).
    """

    @property
    def migrations(self) -> DatabaseMigrationsOptions:
        """The migration options configured for this plugin."""
        ...

    async def get_engine(self, *, purpose: EnginePurpose = "requests") -> AsyncEngine:
        """The plugin's engine, created (and its database ensured) on first use.

        Args:
            purpose: what the connections are for; the same database whatever the
                purpose, from a pool kept for that purpose where the implementation has
                one (see `EnginePurpose`).
        """
        ...

    async def get_session_factory(self) -> async_sessionmaker[AsyncSession]:
        """ORM sessions on the plugin's `requests` engine."""
        ...

    def transaction(
        self, *, purpose: EnginePurpose = "requests"
    ) -> AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction on the plugin's database, as `async with`.

        Commits when the block ends normally and rolls back when it raises. On SQLite the
        plugin's transactions taken here run one at a time (whatever their purpose), so
        every writer of the plugin (its own code and the services working for it, such as
        the scheduler) shares one turn; on Postgres they run concurrently.

        Args:
            purpose: the pool the connection comes from (see `EnginePurpose`).
        """
        ...

    async def migrate(self, versions: Path) -> bool:
        """Upgrade the plugin's database to the newest of its Alembic revisions.

        Runs once however many replicas start together (the others wait, then find
        nothing to do). The revisions need no `env.py`: the service configures Alembic,
        with its version table in the plugin's own database.

        Args:
            versions: the folder of the plugin's Alembic revision files.

        Returns:
            False when `migrations.skip` is set and nothing ran, True otherwise.
        """
        ...
