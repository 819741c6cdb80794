"""Stored entity JSON kept in the process, served only while it is exactly what Postgres
holds: a request never gets an entity older than the state committed before it started.

The catalog's most frequent reads, an entity by name and a hundred by refs, otherwise each
cost a pool checkout and a round trip. The cache rests on the `final_entity_changes`
counter (migration 0002): every statement that writes `final_entities` or `search` draws a
number from it when it runs, before its transaction commits, and every connection sees the
number move at once.

- The cache has a tag, a counter value, and holds only rows known to be exactly what
  Postgres held when the counter stood at the tag: rows read by a statement whose snapshot
  could miss no write counted by the counter value it read (how that is known is in
  `_cached_reads`). A write still open at that snapshot must not be missed: its commit
  will not move the counter again.
- A request first takes a read of the counter sent after it arrived (a shared one, or the
  one its miss statement makes). A value past the tag empties the cache and becomes the
  tag. Every entry then reflects every write counted up to the tag, which includes every
  write committed before the request started (each moved the counter before it
  committed, so before the read): hits are served from memory.
- Rows read at a counter value below the tag are not kept; at a value past it, they
  replace everything.

Entries are kept up to a byte budget, least recently used first out; refs found missing
are kept too (a small entry each). An entity is also found by uid through the ref its
last read gave, checked against the uid of the kept entry. Once the counter has stood
still for `WARM_QUIET_S`, the cache is warmed: the entities are read in ref order, a chunk
per statement, until they fill `WARM_SHARE` of the budget; at most once per tag and per
`WARM_INTERVAL_S`, so a trickle of writes does not read the catalog again and again.
Without it a process would need about as many requests as there are entities before most
were served from memory.
"""

from __future__ import annotations

import math
import sys
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from backstage_backend_plugin_api import RootConfigService

from backstage_plugin_catalog_backend.api._cache_budget import (
    TaggedCache,
    cache_budget,
    observe_caches,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MISSING",
    "WARM_INTERVAL_S",
    "WARM_QUIET_S",
    "WARM_SHARE",
    "EntityCache",
    "Found",
    "Missing",
    "entity_cache_from_config",
]

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
WARM_QUIET_S = 1.0
"""How long the counter stands still before the cache is warmed."""
WARM_INTERVAL_S = 10.0
"""The least time between two warm-ups."""
WARM_SHARE = 0.75
"""The share of the budget a warm-up fills (the rest is the requests')."""

_ENTRY_OVERHEAD = 160
"""Bytes an entry costs besides its strings: the map's slot and node, the tuple."""
_UID_ENTRY = 200
"""Bytes of a uid -> ref hint (two strings and a slot of a dict)."""


class Missing:
    """The type of `MISSING`."""

    __slots__ = ()


MISSING: Final = Missing()
"""What `get` returns for a ref the cache knows nothing about."""


@dataclass(frozen=True, slots=True)
class Found:
    """A row of a miss: the ref, and the uid and JSON of its entity (None: no entity)."""

    ref: str
    uid: str | None
    text: str | None


class EntityCache(TaggedCache[tuple[str | None, str | None, int]]):
    """The kept entities of one process, by lowercased ref (and uid hints), under one tag
    (uid, JSON and size by ref; `hits`, `misses` and `kept` count entities, and refs found
    missing). Not thread-safe: one event loop uses it."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, *, warm_up: bool = True) -> None:
        super().__init__(max_bytes)
        self._warm_up = warm_up
        self._warmed_tag = -1
        self._warmed_at = -math.inf
        self._uids: dict[str, str] = {}
        _CACHES.add(self)

    def should_warm(self) -> bool:
        """Whether to warm the cache now; if so, the warm-up is taken as started."""
        if self._warmed_tag == self._tag or not self._warm_up:
            return False
        now = time.monotonic()
        if now - self._tagged_at < WARM_QUIET_S or now - self._warmed_at < WARM_INTERVAL_S:
            return False
        self._warmed_tag = self._tag
        self._warmed_at = now
        return self.warming(self._tag)

    def warming(self, counter: int) -> bool:
        """Whether a warm-up exact as of `counter` may read more."""
        return counter == self._tag and self.bytes < self.max_bytes * WARM_SHARE

    def get(self, ref: str) -> str | Missing | None:
        """The kept JSON of `ref` (None: kept as missing), or `MISSING`. Only after
        `observe` of the request's counter read, with no await in between."""
        entry = self._entries.get(ref)
        if entry is None:
            return MISSING
        self._entries.move_to_end(ref)
        self.hits += 1
        return entry[1]

    def get_by_uid(self, uid: str) -> str | None:
        """The kept JSON of the entity with this uid, or None when not kept."""
        ref = self._uids.get(uid)
        if ref is None:
            return None
        entry = self._entries.get(ref)
        if entry is None or entry[0] != uid:
            return None
        self._entries.move_to_end(ref)
        self.hits += 1
        return entry[1]

    def keep(self, counter: int, rows: Iterable[Found]) -> None:
        """Keep `rows`, known to be exactly what Postgres held when the counter read
        `counter`: a value past the tag empties the cache first; rows of an older value
        are dropped."""
        self.observe(counter)
        if counter != self._tag:
            return
        for row in rows:
            self._put(row)

    def count_misses(self, number: int) -> None:
        self.misses += number

    def _put(self, row: Found) -> None:
        size = _ENTRY_OVERHEAD + sys.getsizeof(row.ref)
        if row.text is not None:
            size += sys.getsizeof(row.text)
        if row.uid is not None:
            size += _UID_ENTRY
        if size > self.max_bytes:
            return
        previous = self._entries.pop(row.ref, None)
        if previous is not None:
            self.bytes -= previous[2]
        self._entries[row.ref] = (row.uid, row.text, size)
        if row.uid is not None:
            self._uids[row.uid] = row.ref
        self.bytes += size
        self.kept += 1
        while self.bytes > self.max_bytes:
            _, (uid, _text, oldest) = self._entries.popitem(last=False)
            if uid is not None:
                self._uids.pop(uid, None)
            self.bytes -= oldest

    def _clear(self) -> None:
        super()._clear()
        self._uids.clear()


def entity_cache_from_config(config: RootConfigService) -> EntityCache | None:
    """`catalog.cache.entities.enabled` (default true) and `.maxBytes` (default 32 MiB):
    the process's entity cache, or None when it is off."""
    max_bytes = cache_budget(config, "catalog.cache.entities", DEFAULT_MAX_BYTES)
    return None if max_bytes is None else EntityCache(max_bytes)


_CACHES: weakref.WeakSet[EntityCache] = weakref.WeakSet()
observe_caches(
    "entity_cache",
    _CACHES,
    "Entities served from the process's entity cache",
    "Entities the entity cache read from the database",
)
