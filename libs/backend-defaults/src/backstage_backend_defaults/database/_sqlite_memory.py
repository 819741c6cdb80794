"""An in-memory SQLite database for one plugin, safe under concurrent use.

SQLite's `:memory:` database lives and dies with one connection. Sharing that connection
between concurrent sessions (SQLAlchemy's `StaticPool`) interleaves their transactions: one
session's commit or rollback ends another's work half-way. Instead, the database is a named
shared-cache memory database, kept alive by a connection of its own that never runs a
statement, and the engine's pool holds exactly one connection: sessions take turns, each
with a whole transaction to itself, and a connection the pool throws away (after a cancelled
query, say) is replaced by a new one to the same database.
"""

from __future__ import annotations

import sqlite3
import uuid
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

__all__ = ["create_memory_sqlite_engine"]

_CHECKOUT_TIMEOUT_SECONDS = 60


def _enable_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def create_memory_sqlite_engine(name: str) -> AsyncEngine:
    """An engine on a new in-memory database that lives until the engine is disposed."""
    database = f"file:backstage_{name}_{uuid.uuid4().hex}?mode=memory&cache=shared"
    keeper = sqlite3.connect(database, uri=True, check_same_thread=False)
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{database}&uri=true",
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=_CHECKOUT_TIMEOUT_SECONDS,
    )
    event.listen(engine.sync_engine, "connect", _enable_foreign_keys)
    # The database goes when the engine goes: closing the keeper frees its memory.
    weakref.finalize(engine, keeper.close)
    return engine
