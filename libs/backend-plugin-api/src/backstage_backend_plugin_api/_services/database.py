"""core.database: each plugin's own logical database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # SQLAlchemy loads only in processes whose plugins use a database
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

__all__ = ["DatabaseMigrationsOptions", "DatabaseService"]


@dataclass(frozen=True)
class DatabaseMigrationsOptions:
    skip: bool = False
    """True when `skipMigrations` is set: the plugin must not migrate its database."""


class DatabaseService(Protocol):
    """A plugin's database: an async SQLAlchemy engine bound to that plugin alone."""

    @property
    def migrations(self) -> DatabaseMigrationsOptions: ...

    async def get_engine(self) -> AsyncEngine:
        """The plugin's engine, created (and its database ensured) on first use."""
        ...

    async def get_session_factory(self) -> async_sessionmaker[AsyncSession]: ...
