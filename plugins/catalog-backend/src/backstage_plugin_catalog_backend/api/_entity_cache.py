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
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from backstage_backend_plugin_api import RootConfigService
from backstage_common.errors import InputError
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

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


class EntityCache:
    """The kept entities of one process, by lowercased ref (and uid hints), under one tag.
    Not thread-safe: one event loop uses it."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, *, warm_up: bool = True) -> None:
        self.max_bytes = max_bytes
        self._tag = -1
        self._tagged_at = time.monotonic()
        self._warm_up = warm_up
        self._warmed_tag = -1
        self._warmed_at = -math.inf
        self._entries: OrderedDict[str, tuple[str | None, str | None, int]] = OrderedDict()
        self._uids: dict[str, str] = {}
        self.bytes = 0
        self.hits = 0
        """Entities served from memory."""
        self.misses = 0
        """Entities read from the database."""
        self.kept = 0
        """Read entities (or missing refs) kept."""
        _CACHES.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, ref: object) -> bool:
        return ref in self._entries

    def observe(self, counter: int) -> None:
        """A counter value read after a request began: a value past the tag empties the
        cache. What it holds then is exact for that request."""
        if counter > self._tag:
            self._clear()
            self._tag = counter
            self._tagged_at = time.monotonic()

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
        self._entries.clear()
        self._uids.clear()
        self.bytes = 0


def entity_cache_from_config(config: RootConfigService) -> EntityCache | None:
    """`catalog.cache.entities.enabled` (default true) and `.maxBytes` (default 32 MiB):
    the process's entity cache, or None when it is off."""
    if config.get_optional_boolean("catalog.cache.entities.enabled") is False:
        return None
    key = "catalog.cache.entities.maxBytes"
    max_bytes = config.get_optional_number(key)
    if max_bytes is None:
        return EntityCache()
    if isinstance(max_bytes, bool) or max_bytes != int(max_bytes) or max_bytes < 0:
        raise InputError(f"Invalid {key} {max_bytes!r}: it must be a whole number of bytes")
    return EntityCache(int(max_bytes)) if max_bytes else None


_CACHES: weakref.WeakSet[EntityCache] = weakref.WeakSet()


def _observe(attribute: str) -> Iterator[Observation]:
    yield Observation(sum(getattr(cache, attribute) for cache in list(_CACHES)))


def _hits(_options: CallbackOptions) -> Iterator[Observation]:
    return _observe("hits")


def _misses(_options: CallbackOptions) -> Iterator[Observation]:
    return _observe("misses")


def _bytes(_options: CallbackOptions) -> Iterator[Observation]:
    return _observe("bytes")


# read when metrics are collected: nothing is added per request
_meter = metrics.get_meter("backstage_plugin_catalog_backend")
_meter.create_observable_counter(
    "backstage.catalog.entity_cache.hits",
    callbacks=[_hits],
    description="Entities served from the process's entity cache",
)
_meter.create_observable_counter(
    "backstage.catalog.entity_cache.misses",
    callbacks=[_misses],
    description="Entities the entity cache read from the database",
)
_meter.create_observable_gauge(
    "backstage.catalog.entity_cache.bytes",
    callbacks=[_bytes],
    unit="By",
    description="Bytes the process's entity cache holds (estimated)",
)
