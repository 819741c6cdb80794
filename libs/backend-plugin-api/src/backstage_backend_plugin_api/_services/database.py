"""core.database: each plugin's own logical database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

if TYPE_CHECKING:  # SQLAlchemy loads only in processes whose plugins use a database
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

__all__ = ["DatabaseMigrationsOptions", "DatabaseService", "EnginePurpose"]

EnginePurpose: TypeAlias = Literal["requests", "background"]
"""`requests`: work a request waits for. `background`: the plugin's own loops (processing,
indexing), from connections of their own, so that neither starves the other under load."""


@dataclass(frozen=True)
class DatabaseMigrationsOptions:
    skip: bool = False
    """True when `skipMigrations` is set: the plugin must not migrate its database."""


class DatabaseService(Protocol):
    """A plugin's database: an async SQLAlchemy engine bound to that plugin alone."""

    @property
    def migrations(self) -> DatabaseMigrationsOptions: ...

    async def get_engine(self, *, purpose: EnginePurpose = "requests") -> AsyncEngine:
        """The plugin's engine, created (and its database ensured) on first use; the same
        database whatever the `purpose`, from a pool kept for that purpose where the
        implementation has one."""
        ...

    async def get_session_factory(self) -> async_sessionmaker[AsyncSession]: ...
