"""Stored entity JSON by uid, by ref or by many refs: the catalog's most frequent reads.

Each is one fixed statement on an indexed column. On Postgres it is handed straight to the
asyncpg connection of a pooled connection, which keeps it prepared: a read then costs a
pool checkout and one round trip, a quarter or less of the CPU of the same statement through
SQLAlchemy's execution (statement caching, execution context, cursor and result wrappers).

That path skips what SQLAlchemy does around a statement, so it is taken only when nothing
is attached there: no listener of the engine's connections or statements (statement
tracing, the per-session schema of a pool shared by plugins). Otherwise, and on SQLite, the
same reads run as prebuilt SQLAlchemy statements.

With an `EntityCache` (Postgres, direct path only), they go through `CachedReads`: served
from memory where that is exact.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from backstage_plugin_catalog_backend._tables import final_entities
from backstage_plugin_catalog_backend.api._cached_reads import CachedReads, read_counter
from backstage_plugin_catalog_backend.api._entity_cache import EntityCache
from backstage_plugin_catalog_backend.api._queries import entities_by_refs
from backstage_plugin_catalog_backend.api._shared_reads import SharedReads

__all__ = ["EntityTexts"]

_T = TypeVar("_T")

_BY_UID = (
    "SELECT final_entity FROM final_entities WHERE entity_id = $1 AND final_entity IS NOT NULL"
)
_BY_REF = (
    "SELECT final_entity FROM final_entities WHERE entity_ref = $1 AND final_entity IS NOT NULL"
)
_BY_REFS = (
    "SELECT entity_ref, final_entity FROM final_entities "
    "WHERE entity_ref = ANY($1::text[]) AND final_entity IS NOT NULL"
)


def _final_entity_where(column: sa.Column[str]) -> sa.Select[Any]:
    return sa.select(final_entities.c.final_entity).where(
        column == sa.bindparam("key"), final_entities.c.final_entity.is_not(None)
    )


_SELECT_BY_UID = _final_entity_where(final_entities.c.entity_id)
_SELECT_BY_REF = _final_entity_where(final_entities.c.entity_ref)


def _driver_usable(engine: AsyncEngine) -> bool:
    sync = engine.sync_engine
    return (
        engine.dialect.name == "postgresql"
        and not sync.dispatch.engine_connect
        and not sync.dispatch.before_cursor_execute
        and not sync.dispatch.after_cursor_execute
    )


class EntityTexts:
    """Reads of `final_entities` by key. `engine` is the plugin's engine; `reads` the view
    of it that SQLAlchemy statements run on (autocommit); `cache` serves them from memory
    where that is exact (Postgres only)."""

    def __init__(
        self, engine: AsyncEngine, reads: AsyncEngine, cache: EntityCache | None = None
    ) -> None:
        self._engine = engine
        self._reads = reads
        postgres = engine.dialect.name == "postgresql"
        self.counters = SharedReads(functools.partial(read_counter, self.on_driver))
        """Reads of the change counter, shared by the requests waiting for one: the entity
        cache's and the response cache's hits take the same reads."""
        self.cached = (
            CachedReads(self.on_driver, cache, self.counters)
            if cache is not None and postgres
            else None
        )

    @property
    def direct(self) -> bool:
        """Whether reads go straight to the asyncpg driver (Postgres, nothing attached to
        the engine's statements): the in-process caches are used only then."""
        return _driver_usable(self._engine)

    async def by_uid(self, uid: str) -> str | None:
        if self.direct:
            if self.cached is not None:
                return await self.cached.by_uid(uid)
            return await self.on_driver(_BY_UID, lambda driver: driver.fetchval(_BY_UID, uid))
        return await self._scalar(_SELECT_BY_UID, uid)

    async def by_ref(self, ref: str) -> str | None:
        """`ref` is lowercased already."""
        if self.direct:
            if self.cached is not None:
                return await self.cached.by_ref(ref)
            return await self.on_driver(_BY_REF, lambda driver: driver.fetchval(_BY_REF, ref))
        return await self._scalar(_SELECT_BY_REF, ref)

    async def by_refs(self, refs: Sequence[str]) -> dict[str, str]:
        """Stored JSON text by lowercased ref, for those of `refs` that exist."""
        wanted = list({ref.lower() for ref in refs})
        if not wanted:
            return {}
        if not self.direct:
            async with self._reads.connect() as connection:
                return await entities_by_refs(connection, wanted, None)
        if self.cached is not None:
            return await self.cached.by_refs(wanted)
        rows = await self.on_driver(_BY_REFS, lambda driver: driver.fetch(_BY_REFS, wanted))
        return {ref: text for ref, text in rows}

    async def _scalar(self, statement: sa.Select[Any], key: str) -> str | None:
        async with self._reads.connect() as connection:
            text: str | None = (await connection.execute(statement, {"key": key})).scalar()
            return text

    async def on_driver(self, sql: str, call: Callable[[Any], Awaitable[_T]]) -> _T:
        """`call` with the asyncpg connection of a pooled connection. A connection that
        fails or is interrupted may be broken or mid-statement: it leaves the pool. Errors
        are raised as SQLAlchemy's, so they are reported as any database error is."""
        pooled = await self._engine.raw_connection()
        driver: Any = pooled.driver_connection
        try:
            result = await call(driver)
        except BaseException as error:
            pooled.invalidate()
            pooled.close()
            if isinstance(error, Exception):
                raise DBAPIError(sql, None, error, connection_invalidated=True) from error
            raise
        if driver.is_in_transaction():
            # a transaction begun when the connection was checked out: rolling it back as
            # the connection returns to the pool awaits the server
            await greenlet_spawn(pooled.close)
        else:
            pooled.close()
        return result
