"""A place under the processing loop's concurrency bound, taken only once an entity's
processing turns out to need it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["Permit"]


class Permit:
    """One place of `limit`, taken by the first `take` and held until `release`.

    A Location entity whose definition gave its stored result mostly waits for conditional
    reads that find nothing new: it takes its place only when a read brings something to
    process, so the bound counts the entities being processed, not those waiting for a
    "not modified".
    """

    def __init__(
        self,
        limit: asyncio.Semaphore | None,
        ready: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """
        Args:
            limit: the bound to take a place of (None: none, `take` returns at once).
            ready: awaited once the place is taken (the loop's room for more results).
        """
        self._limit = limit
        self._ready = ready
        self._held = False

    async def take(self) -> None:
        """Wait for a place unless one is held already, then for the next turn of the
        event loop.

        Processing an entity rarely waits for anything once it has its place: without
        that turn, places handed back and taken again within one turn would let it
        process any number of entities, holding up everything else; now a turn
        processes as many as `limit` has places at most.
        """
        if self._limit is not None and not self._held:
            await self._limit.acquire()
            self._held = True
            if self._ready is not None:
                await self._ready()
            await asyncio.sleep(0)

    def release(self) -> None:
        """Give the place back, if one is held."""
        if self._limit is not None and self._held:
            self._held = False
            self._limit.release()
