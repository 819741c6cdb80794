"""Stored entity JSON by uid, by ref or by many refs: the catalog's most frequent reads.

Each is one fixed statement on an indexed column. On Postgres it is handed straight to the
asyncpg connection of a pooled connection, which keeps it prepared: a read then costs a
pool checkout and one round trip, a quarter or less of the CPU of the same statement through
SQLAlchemy's execution (statement caching, execution context, cursor and result wrappers).

That path skips what SQLAlchemy does around a statement, so it is taken only when nothing
is attached there: no listener of the engine's connections or statements (statement
tracing, the per-session schema of a pool shared by plugins). Otherwise, and on SQLite, the
same reads run as prebuilt SQLAlchemy statements.

With an `EntityCache` (Postgres, direct path only), each read first takes a shared read of
the change counter and serves what the cache holds; what it misses is read in one
statement that also reads the counter, and kept when that makes it exact (see
`_entity_cache`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from backstage_plugin_catalog_backend._tables import final_entities
from backstage_plugin_catalog_backend.api._entity_cache import (
    CounterState,
    EntityCache,
    Found,
    Missing,
)
from backstage_plugin_catalog_backend.api._queries import entities_by_refs
from backstage_plugin_catalog_backend.api._shared_reads import COUNTER_SQL, SharedReads

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

_WRITE_LOCKS = (
    "('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')"
)
# The lock check depends on the counter read (a correlated sub-select), so it runs after
# it: a writer that moved the counter before that read still holds its lock unless its
# commit is already visible.
_STATE = (
    "SELECT c.counter, NOT EXISTS (SELECT FROM pg_locks l WHERE l.locktype = 'relation' "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.relation IN ('final_entities'::regclass, 'search'::regclass) "
    f"AND l.mode IN {_WRITE_LOCKS} AND l.pid IS DISTINCT FROM pg_backend_pid() "
    f"AND c.counter IS NOT NULL) FROM ({COUNTER_SQL}) AS c(counter)"
)
_COUNTED = (
    f"FROM ({COUNTER_SQL}) AS c(counter) LEFT JOIN final_entities e "
    "ON e.final_entity IS NOT NULL AND "
)
_COUNTED_BY_UID = f"SELECT c.counter, e.entity_ref, e.final_entity {_COUNTED}e.entity_id = $1"
_COUNTED_BY_REF = f"SELECT c.counter, e.entity_id, e.final_entity {_COUNTED}e.entity_ref = $1"
_COUNTED_BY_REFS = (
    f"SELECT c.counter, e.entity_ref, e.entity_id, e.final_entity {_COUNTED}"
    "e.entity_ref = ANY($1::text[])"
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
    where it is exact (Postgres only)."""

    def __init__(
        self, engine: AsyncEngine, reads: AsyncEngine, cache: EntityCache | None = None
    ) -> None:
        self._engine = engine
        self._reads = reads
        self.cache = cache if engine.dialect.name == "postgresql" else None
        self._states = SharedReads(self._read_state)

    @property
    def _direct(self) -> bool:
        return _driver_usable(self._engine)

    async def by_uid(self, uid: str) -> str | None:
        if self._direct:
            if self.cache is not None:
                return await self._cached_by_uid(self.cache, uid)
            return await self._on_driver(_BY_UID, lambda driver: driver.fetchval(_BY_UID, uid))
        return await self._scalar(_SELECT_BY_UID, uid)

    async def by_ref(self, ref: str) -> str | None:
        """`ref` is lowercased already."""
        if self._direct:
            if self.cache is not None:
                return await self._cached_by_ref(self.cache, ref)
            return await self._on_driver(_BY_REF, lambda driver: driver.fetchval(_BY_REF, ref))
        return await self._scalar(_SELECT_BY_REF, ref)

    async def by_refs(self, refs: Sequence[str]) -> dict[str, str]:
        """Stored JSON text by lowercased ref, for those of `refs` that exist."""
        wanted = list({ref.lower() for ref in refs})
        if not wanted:
            return {}
        if not self._direct:
            async with self._reads.connect() as connection:
                return await entities_by_refs(connection, wanted, None)
        if self.cache is not None:
            return await self._cached_by_refs(self.cache, wanted)
        rows = await self._on_driver(_BY_REFS, lambda driver: driver.fetch(_BY_REFS, wanted))
        return {ref: text for ref, text in rows}

    async def _read_state(self) -> CounterState:
        row = await self._on_driver(_STATE, lambda driver: driver.fetchrow(_STATE))
        return CounterState(row[0], row[1])

    async def _cached_by_uid(self, cache: EntityCache, uid: str) -> str | None:
        state = await self._states.read()
        cache.observe(state)
        text = cache.get_by_uid(uid)
        if text is not None:
            return text
        sql = _COUNTED_BY_UID
        row = await self._on_driver(sql, lambda driver: driver.fetchrow(sql, uid))
        ref: str | None = row[1]
        found: str | None = row[2]
        cache.count_misses(1)
        if ref is not None:
            cache.keep(state, row[0], (Found(ref, uid, found),))
        return found

    async def _cached_by_ref(self, cache: EntityCache, ref: str) -> str | None:
        state = await self._states.read()
        cache.observe(state)
        kept = cache.get(ref)
        if not isinstance(kept, Missing):
            return kept
        sql = _COUNTED_BY_REF
        row = await self._on_driver(sql, lambda driver: driver.fetchrow(sql, ref))
        text: str | None = row[2]
        cache.count_misses(1)
        cache.keep(state, row[0], (Found(ref, row[1], text),))
        return text

    async def _cached_by_refs(self, cache: EntityCache, wanted: list[str]) -> dict[str, str]:
        state = await self._states.read()
        cache.observe(state)
        texts: dict[str, str] = {}
        missed: list[str] = []
        for ref in wanted:
            kept = cache.get(ref)
            if isinstance(kept, Missing):
                missed.append(ref)
            elif kept is not None:
                texts[ref] = kept
        if not missed:
            return texts
        sql = _COUNTED_BY_REFS
        rows = await self._on_driver(sql, lambda driver: driver.fetch(sql, missed))
        read = {ref: (uid, text) for _, ref, uid, text in rows if ref is not None}
        cache.count_misses(len(missed))
        absent = (None, None)
        found = (Found(ref, *read.get(ref, absent)) for ref in missed)
        cache.keep(state, rows[0][0], found)
        texts.update((ref, text) for ref, (_, text) in read.items())
        return texts

    async def _scalar(self, statement: sa.Select[Any], key: str) -> str | None:
        async with self._reads.connect() as connection:
            text: str | None = (await connection.execute(statement, {"key": key})).scalar()
            return text

    async def _on_driver(self, sql: str, call: Callable[[Any], Awaitable[_T]]) -> _T:
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
