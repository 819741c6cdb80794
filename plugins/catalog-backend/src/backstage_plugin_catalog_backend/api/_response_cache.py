"""Whole response bodies of entity lists and by-query pages kept in the process, served
only while they are exactly what Postgres would answer: a request never gets a response
older than the state committed before it started.

Catalog frontends and scripts ask for the same few lists and pages again and again (a
kind's first page, then its cursor pages); each costs Postgres a query and a count. A
GET response is keyed by its route and its raw query string: equal strings give equal
answers for one state of the catalog (a cursor carries all it depends on), and a string
that gives an error is never kept. A POST by-query is keyed by its route and a digest of
its JSON body without spaces (`body_key`). It is served only to callers who may read
every entity.

It rests on the `final_entity_changes` counter (migration 0002) as `EntityCache` does:

- the cache has a tag, a counter value, and holds only bodies read when Postgres held
  exactly the state counted up to the tag;
- a hit needs a read of the counter sent after the request arrived (shared by the
  requests waiting for it) equal to the tag: every write committed before the request
  started moved the counter before that read. A value past the tag empties the cache;
- a miss first takes the counter `c0` with whether any other transaction holds a write
  lock on `final_entities` or `search` (`SETTLED_SQL`), then runs its statements, then reads
  the counter again (`c1`, sent after the last statement). Its body is kept, tagged `c0`,
  only when no writer held a lock at `c0` and `c1 = c0`. A writer keeps its lock from
  before its statement moves the counter until after its commit is visible, so a writer
  that moved the counter before `c0` had its commit visible before the miss's statements
  took their snapshots; one that moves it later makes `c1` differ. One still holding no
  number at `c1` wrote nothing any snapshot could see.

Bodies are kept up to a byte budget, least recently used first out; a body larger than
half of it is not kept.

A response is made once at a time: a request that misses while another request makes the
same response (one that may be kept) waits for it, up to `MAKING_WAIT_S`, and looks again,
with a counter read of its own. Without that, a burst of requests for one large list (16
clients asking for every user of a 100,000-entity catalog) makes it once per request, each
holding its own copy, when one would do.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import weakref
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from backstage_backend_plugin_api import RootConfigService
from litestar import Request, Response
from litestar.response import Stream

from backstage_plugin_catalog_backend.api._cache_budget import (
    TaggedCache,
    cache_budget,
    observe_caches,
)
from backstage_plugin_catalog_backend.api._cached_reads import OnDriver
from backstage_plugin_catalog_backend.api._responses import JSON_MEDIA_TYPE
from backstage_plugin_catalog_backend.api._shared_reads import SETTLED_SQL, SharedReads

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAKING_WAIT_S",
    "SEND_SLICE",
    "CachedResponses",
    "KeptResponse",
    "Miss",
    "ResponseCache",
    "body_key",
    "kept_json",
    "request_key",
    "response_cache_from_config",
]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Room for a list of every user of a 100,000-entity catalog (about 17 MB) under the
half-budget rule, beside the pages."""
MAKING_WAIT_S = 2.0
"""How long a request waits for the same response being made by another before it makes it
itself: enough to make a list of every user of a 100,000-entity catalog, little enough that
a slow client of the first request does not hold up the others for long."""
_ENTRY_OVERHEAD = 300
"""Bytes an entry costs besides its body: the key, the map's slot and node, the tuples."""


@dataclass(frozen=True, slots=True)
class KeptResponse:
    """A kept response: its body, the headers it was sent with (besides the media type,
    which is always JSON) and whether it was streamed (sent again the same way)."""

    body: bytes
    headers: Mapping[str, str]
    streamed: bool = False


def request_key(request: Request[Any, Any, Any]) -> str:
    """A request's key: its path and raw query string, as sent."""
    query: bytes = request.scope["query_string"]
    return request.scope["path"] + "?" + query.decode("latin-1")


def body_key(request: Request[Any, Any, Any], body: Mapping[str, Any]) -> str:
    """A request's key by its JSON body: its method and path and the SHA-256 of the body
    written again without spaces.

    Bodies that differ only in spacing share a key; an object's keys keep their order, as
    a response may show it (a next page's cursor carries the `query` as it was given). The
    digest keeps a large body from costing the cache more than the budget counts.
    """
    compact = json.dumps(body, separators=(",", ":"))
    digest = hashlib.sha256(compact.encode()).hexdigest()
    return f"{request.scope['method']} {request.scope['path']}#{digest}"


def kept_json(kept: KeptResponse) -> Response[Any]:
    """The kept response, sent as it was made."""
    if kept.streamed:
        return Stream(_in_slices(kept.body), media_type=JSON_MEDIA_TYPE, headers=dict(kept.headers))
    return Response(kept.body, media_type=JSON_MEDIA_TYPE, headers=dict(kept.headers))


SEND_SLICE = 1 << 20
"""Bytes of a kept streamed body handed to the server at a time: the server copies what it
is given until the client has read it, so a large list sent whole to many slow readers
would hold a copy per reader."""


async def _in_slices(body: bytes) -> AsyncIterator[bytes]:
    # an async generator: Litestar iterates a plain iterable in a worker thread
    for start in range(0, len(body), SEND_SLICE):
        yield body[start : start + SEND_SLICE]


class ResponseCache(TaggedCache[tuple[KeptResponse, int]]):
    """The kept responses of one process (with their sizes), by key, under one tag;
    `misses` counts the responses made by callers who could use it. Not thread-safe: one
    event loop uses it."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__(max_bytes)
        _CACHES.add(self)

    def get(self, key: str) -> KeptResponse | None:
        """The response kept under `key`. Only after `observe` of the request's counter
        read, with no await in between."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[0]

    def keep(self, counter: int, key: str, response: KeptResponse) -> None:
        """Keep `response`, known to be exactly what Postgres answered while the counter
        read `counter`: a value past the tag empties the cache first; a response of an
        older value is dropped."""
        self.observe(counter)
        size = _ENTRY_OVERHEAD + sys.getsizeof(key) + len(response.body)
        if counter != self._tag or size > self.max_bytes // 2:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self.bytes -= previous[1]
        self._entries[key] = (response, size)
        self.bytes += size
        self.kept += 1
        while self.bytes > self.max_bytes:
            _, (_, oldest) = self._entries.popitem(last=False)
            self.bytes -= oldest


class Miss:
    """A response the cache did not have, being made: `c0` and whether it was settled.
    Requests for the same response wait for it until it is kept, or given up (the miss is
    dropped without `keep`, as when the request fails or its client goes away)."""

    __slots__ = ("__weakref__", "_counter", "_made", "_responses", "_settled", "key")

    def __init__(self, responses: CachedResponses, key: str, counter: int, settled: bool):
        self._responses = responses
        self.key = key
        self._counter = counter
        self._settled = settled
        self._made: weakref.finalize[Any, Any] | None = None

    @property
    def room(self) -> int:
        """The most bytes of body worth collecting: 0 when `keep` would keep nothing."""
        return self._responses.cache.max_bytes // 2 if self._settled else 0

    async def keep(
        self, body: bytes, headers: Mapping[str, str] | None = None, *, streamed: bool = False
    ) -> None:
        """Keep the response whose statements all ran after this miss began, when no
        writer could have changed what they read."""
        try:
            if not self._settled:
                return
            counter = await self._responses.counters.read()
            cache = self._responses.cache
            cache.observe(counter)
            if counter == self._counter:
                cache.keep(counter, self.key, KeptResponse(body, dict(headers or {}), streamed))
        finally:
            if self._made is not None:
                self._made()


class CachedResponses:
    """Responses from `cache` where it is exact; the counter and settled reads run
    through `on_driver` (the asyncpg connection of a pooled connection)."""

    def __init__(
        self, on_driver: OnDriver[Any], cache: ResponseCache, counters: SharedReads[int]
    ) -> None:
        self._on_driver = on_driver
        self.cache = cache
        self.counters = counters
        """Counter reads shared by hits and by the misses' second reads (and with the
        entity cache's hits: one stream of counter reads per process)."""
        self._settled = SharedReads(self._read_settled)
        self._making: dict[str, asyncio.Future[None]] = {}

    async def lookup(self, key: str) -> KeptResponse | Miss:
        """The response kept under `key` when it is exact for this request, else a `Miss`
        whose first read is taken (before any of the miss's statements). When another
        request is making the same response, waits for it first (once, up to
        `MAKING_WAIT_S`)."""
        cache = self.cache
        waited = False
        while True:
            if len(cache):
                cache.observe(await self.counters.read())
                kept = cache.get(key)
                if kept is not None:
                    return kept
            making = self._making.get(key)
            if making is None or waited:
                break
            waited = True
            await asyncio.wait((making,), timeout=MAKING_WAIT_S)
        made: asyncio.Future[None] | None = None
        if key not in self._making:
            # registered before the await, so the requests of one burst find it
            made = self._making[key] = asyncio.get_running_loop().create_future()
        try:
            counter, settled = await self._settled.read()
        except BaseException:
            if made is not None:
                self._release(key, made)
            raise
        cache.misses += 1
        cache.observe(counter)
        miss = Miss(self, key, counter, settled)
        if made is not None:
            if settled:
                miss._made = weakref.finalize(miss, self._release, key, made)
                miss._made.atexit = False
            else:  # a response made while writes flow is not kept: nothing to wait for
                self._release(key, made)
        return miss

    def _release(self, key: str, made: asyncio.Future[None]) -> None:
        loop = made.get_loop()
        if asyncio._get_running_loop() is not loop:
            # a dropped miss may be collected by another thread's garbage collection
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._release, key, made)
            return
        if self._making.get(key) is made:
            del self._making[key]
        if not made.done():
            made.set_result(None)

    async def _read_settled(self) -> tuple[int, bool]:
        sql = SETTLED_SQL
        row = await self._on_driver(sql, lambda driver: driver.fetchrow(sql))
        return row[0], bool(row[1])


def response_cache_from_config(config: RootConfigService) -> ResponseCache | None:
    """`catalog.cache.responses.enabled` (default true) and `.maxBytes` (default 64 MiB):
    the process's response cache, or None when it is off."""
    max_bytes = cache_budget(config, "catalog.cache.responses", DEFAULT_MAX_BYTES)
    return None if max_bytes is None else ResponseCache(max_bytes)


_CACHES: weakref.WeakSet[ResponseCache] = weakref.WeakSet()
observe_caches(
    "response_cache",
    _CACHES,
    "Entity lists and pages served from the process's response cache",
    "Entity lists and pages the response cache had to make",
)
