"""Entity facet counts, computed once per state of the catalog instead of once per request.

A facet request counts the search rows of every matching entity: at 100,000 entities that
is hundreds of thousands of rows, and a page of the catalog UI asks for the same counts on
each load. On Postgres, every statement that writes final entities or their search rows
moves the `final_entity_changes` sequence (migration 0002), and every connection sees it
move at once, committed or not. So:

- a count first reads the counter and whether another transaction holds a write lock on
  `final_entities` or `search` (`SETTLED_SQL`), then counts, then reads the counter again;
  its result is kept only when no such lock was held and the counter had not moved. A
  writer holds its lock from before its statement moves the counter until after its commit
  is visible, so a write that began before the count and commits after it is never missed,
  and one that begins during the count moves the counter;
- a kept result is reused while the counter still shows the value it was kept under;
- identical requests that arrive while a count is running share it instead of starting
  their own;
- requests that arrive while the counter is being read share the next read: it is sent after
  they arrived, so it sees every write committed before any of them started, and under load
  the counter costs one round trip per round trip time instead of one per request.

A request that starts after a write has committed never sees counts from before it: the
write moved the counter when it ran. On SQLite, which has no sequences, every request
counts.
"""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from backstage_plugin_catalog_common import Predicate
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backstage_plugin_catalog_backend.api._queries import entity_facets, predicate_key
from backstage_plugin_catalog_backend.api._shared_reads import (
    COUNTER_SQL,
    SETTLED_SQL,
    SharedReads,
)

__all__ = ["FacetCounts"]

_ROWS_KEPT = 200_000
"""Facet rows kept across all results (a facet on `metadata.name` has a row per entity)."""
_READ_COUNTER = sa.text(COUNTER_SQL)
_READ_SETTLED = sa.text(SETTLED_SQL)

FacetRows = list[tuple[str, str, int]]
_Key = tuple[tuple[str, ...], bytes | None]


@dataclass(frozen=True, slots=True)
class _Kept:
    counter: int
    rows: FacetRows


class FacetCounts:
    """`(key, value, count)` rows of the facet keys among the entities matching a filter.
    `engine` runs reads without a transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._counted = engine.dialect.name == "postgresql"
        self._kept: OrderedDict[_Key, _Kept] = OrderedDict()
        self._kept_rows = 0
        self._running: dict[tuple[_Key, int], asyncio.Task[FacetRows]] = {}
        self._counter = SharedReads(self._read_counter)

    async def rows(self, keys: Sequence[str], predicate: Predicate | None) -> FacetRows:
        key: _Key = (tuple(sorted({k.lower() for k in keys})), predicate_key(predicate))
        if not self._counted:
            async with self._engine.connect() as connection:
                return await entity_facets(connection, key[0], predicate)
        counter = await self._counter.read()
        kept = self._kept.get(key)
        if kept is not None and kept.counter == counter:
            return kept.rows
        running = self._running.get((key, counter))
        if running is None:
            running = asyncio.create_task(self._count(key, predicate, counter))
            self._running[(key, counter)] = running
            running.add_done_callback(functools.partial(self._finished, (key, counter)))
        # a request that goes away leaves the count running for the others
        return await asyncio.shield(running)

    async def _count(self, key: _Key, predicate: Predicate | None, counter: int) -> FacetRows:
        async with self._engine.connect() as connection:
            before, settled = (await connection.execute(_READ_SETTLED)).one()
            rows = await entity_facets(connection, key[0], predicate)
            after = await _counter(connection)
        if settled and after == before:
            self._keep(key, _Kept(int(before), rows))
        return rows

    async def _read_counter(self) -> int:
        async with self._engine.connect() as connection:
            return await _counter(connection)

    def _finished(self, running: tuple[_Key, int], task: asyncio.Task[FacetRows]) -> None:
        del self._running[running]
        if not task.cancelled():
            task.exception()  # retrieved: the requests that awaited it have raised it

    def _keep(self, key: _Key, kept: _Kept) -> None:
        previous = self._kept.pop(key, None)
        if previous is not None:
            self._kept_rows -= len(previous.rows)
        if len(kept.rows) > _ROWS_KEPT:
            return
        self._kept[key] = kept
        self._kept_rows += len(kept.rows)
        while self._kept_rows > _ROWS_KEPT:
            _, oldest = self._kept.popitem(last=False)
            self._kept_rows -= len(oldest.rows)


async def _counter(connection: AsyncConnection) -> int:
    return int((await connection.execute(_READ_COUNTER)).scalar_one())


# the name this class had here before it was shared with the entity cache
_SharedCounterReads = SharedReads
