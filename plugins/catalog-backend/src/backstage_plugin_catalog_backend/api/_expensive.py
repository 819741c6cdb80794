"""A bound on the catalog's expensive reads running at once: listings, by-query pages and
facet counts.

Each of them may read and encode thousands of entities. Hundreds at once do not finish
sooner than a few at a time (they share the same CPU and the same pool of connections);
they only make every cheap read (an entity by name, by refs) wait behind them for a
connection and for the event loop. So a few run at a time and the rest wait their turn,
not holding a connection while they wait; one that cannot start within `queue_timeout`
answers 503 (the catalog is busy), which a client may retry, instead of waiting without
bound.

Config: `catalog.expensiveReads.concurrency` (default 4) and
`catalog.expensiveReads.queueTimeout` (default 10 s).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from backstage_backend_plugin_api import RootConfigService
from backstage_common.durations import read_optional_duration
from backstage_common.errors import InputError, ServiceUnavailableError
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["ExpensiveReads"]

DEFAULT_CONCURRENCY = 4
DEFAULT_QUEUE_TIMEOUT_SECONDS = 10.0


class ExpensiveReads:
    """At most `concurrency` of the routes it limits run at once."""

    def __init__(
        self,
        concurrency: int = DEFAULT_CONCURRENCY,
        queue_timeout: float = DEFAULT_QUEUE_TIMEOUT_SECONDS,
    ) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._queue_timeout = queue_timeout

    @classmethod
    def from_config(cls, config: RootConfigService) -> ExpensiveReads:
        key = "catalog.expensiveReads.concurrency"
        concurrency = config.get_optional_number(key)
        if concurrency is None:
            concurrency = DEFAULT_CONCURRENCY
        if isinstance(concurrency, bool) or concurrency != int(concurrency) or concurrency < 1:
            raise InputError(
                f"Invalid {key} {concurrency!r}: it must be a whole number of at least 1"
            )
        timeout = read_optional_duration(config, "catalog.expensiveReads.queueTimeout")
        return cls(
            int(concurrency),
            DEFAULT_QUEUE_TIMEOUT_SECONDS if timeout is None else timeout.total_seconds(),
        )

    def limit(self, handlers: Sequence[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
        """`handlers`, each running only with a slot."""
        for handler in handlers:
            handler.middleware = [*(handler.middleware or []), self._middleware]
        return list(handlers)

    def _middleware(self, app: ASGIApp) -> ASGIApp:
        async def limited(scope: Scope, receive: Receive, send: Send) -> None:
            if self._slots.locked():
                try:
                    async with asyncio.timeout(self._queue_timeout):
                        await self._slots.acquire()
                except TimeoutError:
                    raise ServiceUnavailableError("The catalog is busy, try again later") from None
            else:
                # a free slot is taken at once: no timer for the common case
                await self._slots.acquire()
            try:
                await app(scope, receive, send)
            finally:
                self._slots.release()

        return limited
