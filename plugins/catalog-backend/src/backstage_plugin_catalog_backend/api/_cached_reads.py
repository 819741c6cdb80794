"""The reads by uid, ref and refs through an `EntityCache`, on the asyncpg connection of a
pooled connection (Postgres).

Three statements besides the misses' own:

- the counter alone, a shared read (`SharedReads`) each request takes before it is served
  from memory;
- a miss statement reads the rows, the counter (`c1`) and whether its snapshot may miss a
  write the counter counts: the rows are kept (as of `c1`) only when no transaction was
  running at the snapshot (`xmin = xmax`) and no transaction id had been assigned past the
  snapshot's `xmax` by the time `c1` was read (`age(xmax) = 0`, evaluated after the
  counter, whose value it depends on). A snapshot does not list running transactions
  whose ids are at or past its `xmax`, so the second test is needed: a single open writer
  with the newest id gives `xmin = xmax`. A writer that moved the counter before `c1` had
  its id before that, so it is one of those two kinds or it had finished at the snapshot.
  Both are cluster-wide, so any transaction anywhere delays keeping: never wrong.
- the warm-up takes, once, the counter with whether any transaction held a write lock on
  `final_entities` or `search` (`pg_locks`, read after the counter, on which it depends):
  a writer keeps its lock from before its statement moved the counter until after its
  commit is visible. Its chunks are kept when their counter is that one. The lock table
  read costs several times the counter's, so requests do not take it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from backstage_plugin_catalog_backend.api._entity_cache import EntityCache, Found, Missing
from backstage_plugin_catalog_backend.api._shared_reads import COUNTER_SQL, SETTLED_SQL, SharedReads

__all__ = ["CachedReads", "OnDriver", "read_counter"]

_T = TypeVar("_T")
OnDriver = Callable[[str, Callable[[Any], Awaitable[_T]]], Awaitable[_T]]
"""Runs a call with the asyncpg connection of a pooled connection (`sql` names it in
errors)."""

_EXACT = (
    "pg_current_xact_id_if_assigned() IS NULL "
    "AND pg_snapshot_xmin(s.snap) = pg_snapshot_xmax(s.snap) "
    "AND age(CASE WHEN c.counter IS NULL THEN NULL ELSE xid(pg_snapshot_xmax(s.snap)) END) = 0"
)
_COUNTED = (
    f"FROM ({COUNTER_SQL}) AS c(counter) CROSS JOIN pg_current_snapshot() AS s(snap) "
    "LEFT JOIN final_entities e ON e.final_entity IS NOT NULL AND "
)
_BY_UID = f"SELECT c.counter, {_EXACT}, e.entity_ref, e.final_entity {_COUNTED}e.entity_id = $1"
_BY_REF = f"SELECT c.counter, {_EXACT}, e.entity_id, e.final_entity {_COUNTED}e.entity_ref = $1"
_BY_REFS = (
    f"SELECT c.counter, {_EXACT}, e.entity_ref, e.entity_id, e.final_entity {_COUNTED}"
    "e.entity_ref = ANY($1::text[])"
)
_WARM_CHUNK = 500
_WARM = (
    "SELECT c.counter, e.entity_ref, e.entity_id, e.final_entity "
    f"FROM ({COUNTER_SQL}) AS c(counter) LEFT JOIN LATERAL (SELECT entity_ref, entity_id, "
    "final_entity FROM final_entities WHERE entity_ref > $1 AND final_entity IS NOT NULL "
    "ORDER BY entity_ref LIMIT $2) AS e ON true"
)


def _fetch(driver: Any, sql: str, *args: Any) -> Awaitable[list[Any]]:
    result: Awaitable[list[Any]] = driver.fetch(sql, *args)
    return result


def _fetch_chunk(driver: Any, after: str) -> Awaitable[list[Any]]:
    return _fetch(driver, _WARM, after, _WARM_CHUNK)


def _fetchrow(driver: Any, sql: str, *args: Any) -> Awaitable[Any]:
    result: Awaitable[Any] = driver.fetchrow(sql, *args)
    return result


async def read_counter(on_driver: OnDriver[Any]) -> int:
    """The counter's value, read through `on_driver`."""
    sql = COUNTER_SQL
    counter: int = await on_driver(sql, lambda driver: driver.fetchval(sql))
    return counter


class CachedReads:
    """Entities by uid, ref and refs, from `cache` where it is exact, else from Postgres
    through `on_driver` (and kept when that makes them exact)."""

    def __init__(
        self, on_driver: OnDriver[Any], cache: EntityCache, counters: SharedReads[int]
    ) -> None:
        self._on_driver = on_driver
        self.cache = cache
        self._counters = counters
        self.warm_up: asyncio.Task[None] | None = None
        """The last warm-up started."""

    async def by_uid(self, uid: str) -> str | None:
        cache = self.cache
        if len(cache):
            await self._observe()
            text = cache.get_by_uid(uid)
            if text is not None:
                return text
        row = await self._row(_BY_UID, uid)
        cache.count_misses(1)
        self._seen(row[0])
        ref: str | None = row[2]
        found: str | None = row[3]
        if ref is not None and row[1]:
            cache.keep(row[0], (Found(ref, uid, found),))
        return found

    async def by_ref(self, ref: str) -> str | None:
        cache = self.cache
        if len(cache):
            await self._observe()
            kept = cache.get(ref)
            if not isinstance(kept, Missing):
                return kept
        row = await self._row(_BY_REF, ref)
        cache.count_misses(1)
        self._seen(row[0])
        text: str | None = row[3]
        if row[1]:
            cache.keep(row[0], (Found(ref, row[2], text),))
        return text

    async def by_refs(self, wanted: list[str]) -> dict[str, str]:
        """`wanted` are lowercased and distinct."""
        cache = self.cache
        texts: dict[str, str] = {}
        missed = wanted
        if len(cache):
            await self._observe()
            missed = []
            for ref in wanted:
                kept = cache.get(ref)
                if isinstance(kept, Missing):
                    missed.append(ref)
                elif kept is not None:
                    texts[ref] = kept
            if not missed:
                return texts
        sql = _BY_REFS
        rows = await self._on_driver(sql, lambda driver: _fetch(driver, sql, missed))
        read = {ref: (uid, text) for _, _, ref, uid, text in rows if ref is not None}
        cache.count_misses(len(missed))
        self._seen(rows[0][0])
        if rows[0][1]:
            absent = (None, None)
            cache.keep(rows[0][0], (Found(ref, *read.get(ref, absent)) for ref in missed))
        texts.update((ref, text) for ref, (_, text) in read.items())
        return texts

    async def _row(self, sql: str, *args: Any) -> Any:
        return await self._on_driver(sql, lambda driver: _fetchrow(driver, sql, *args))

    async def _observe(self) -> None:
        """Read the counter (a read sent after this call began) into the cache, which is
        then exact for this request; start a warm-up when it is due."""
        self._seen(await self._counters.read())

    def _seen(self, counter: int) -> None:
        """A counter value read after the request began."""
        self.cache.observe(counter)
        if self.cache.should_warm():
            self.warm_up = asyncio.ensure_future(self._warm())

    async def _warm(self) -> None:
        """Read the entities into the cache in ref order, a chunk per statement."""
        cache = self.cache
        try:
            row = await self._row(SETTLED_SQL)
            counter, settled = row[0], row[1]
            cache.observe(counter)
            after = ""
            while settled and cache.warming(counter):
                chunk = functools.partial(_fetch_chunk, after=after)
                rows = await self._on_driver(_WARM, chunk)
                if rows[0][0] != counter:
                    return
                found = [Found(ref, uid, text) for _, ref, uid, text in rows if ref is not None]
                cache.keep(counter, found)
                if len(found) < _WARM_CHUNK:
                    return
                after = found[-1].ref
        except Exception:
            # only an optimisation: the requests report database errors themselves
            return
