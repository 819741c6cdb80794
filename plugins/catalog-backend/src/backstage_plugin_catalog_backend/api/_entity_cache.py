"""Stored entity JSON kept in the process, served only while it is exactly what Postgres
holds: a request never gets an entity older than the state committed before it started.

The catalog's most frequent reads, an entity by name and a hundred by refs, otherwise each
cost a pool checkout and a round trip. The cache rests on the `final_entity_changes`
counter (migration 0002): every statement that writes `final_entities` or `search` draws a
number from it when it runs, before its transaction commits, and every connection sees the
number move at once.

- The cache has a tag, a counter value. A request first takes a shared read of the counter
  (`SharedReads`: sent after the request arrived). A value above the tag empties the cache
  and becomes the tag. Every entry then reflects every write counted up to the tag, which
  includes every write committed before the request started (each moved the counter
  before it committed, so before the read): hits are served from memory.
- The same counter read also tells whether any transaction then held a write lock on
  `final_entities` or `search` (`pg_locks`, read after the counter, in the same
  statement). Misses are read in one statement that also reads the counter again. Their
  rows are kept only if no writer held a lock and the counter read by the miss statement
  equals the request's (and the tag). Then every write counted by the tag was committed
  (or gone) when the miss statement took its snapshot: a writer keeps its lock from before
  its statement moved the counter until after its commit is visible, so a writer not in
  `pg_locks` after the counter read had finished; and none moved the counter between the
  two reads.
- A write after the miss statement's counter read moves the counter, so every later
  request's read is above the tag and empties the cache.

A transaction's commit does not move the counter; that is why a row read while a writer
held its lock is never kept (Postgres snapshots alone cannot tell: a writer whose
transaction id is the newest assigned is not listed among a snapshot's running ones).

Entries are kept up to a byte budget, least recently used first out; refs found missing
are kept too (a small entry each). An entity is also found by uid through the ref its
last read gave, checked against the uid of the kept entry.
"""

from __future__ import annotations

import sys
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
    "CounterState",
    "EntityCache",
    "Found",
    "Missing",
    "entity_cache_from_config",
]

DEFAULT_MAX_BYTES = 32 * 1024 * 1024

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
class CounterState:
    """One read of the counter: its value, and whether no transaction held a write lock on
    `final_entities` or `search` when it was read."""

    counter: int
    settled: bool


@dataclass(frozen=True, slots=True)
class Found:
    """A row of a miss: the ref, and the uid and JSON of its entity (None: no entity)."""

    ref: str
    uid: str | None
    text: str | None


class EntityCache:
    """The kept entities of one process, by lowercased ref (and uid hints), under one tag.
    Not thread-safe: one event loop uses it."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._tag = -1
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

    def observe(self, state: CounterState) -> None:
        """A request's counter read: a value past the tag empties the cache."""
        if state.counter > self._tag:
            self._clear()
            self._tag = state.counter

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

    def keep(self, state: CounterState, counter: int, rows: Iterable[Found]) -> None:
        """Keep `rows`, read by one statement that also read the counter as `counter`, for
        a request whose counter read was `state`, if that makes them exact (see the
        module)."""
        if not (state.settled and counter == state.counter == self._tag):
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
