"""Waking the processing loop of another process: a write through a serving worker
(`backend.worker.role: serve`) notifies the catalog's Postgres database, and the process
that processes (`background`) listens, so that a registration is processed at once rather
than at the loop's next poll. The poll stays: a lost notification only costs that wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import sqlalchemy as sa
from backstage_backend_plugin_api import DatabaseService, LoggerService

__all__ = ["CHANNEL", "WakeListener", "WakeNotifier"]

CHANNEL = "backstage_catalog_processing"
_RETRY_SECONDS = 5.0


class WakeNotifier:
    """`notify()` (a change was committed) sends a notification on the request pool, in
    the background of the caller."""

    def __init__(self, database: DatabaseService, logger: LoggerService) -> None:
        self._database = database
        self._logger = logger
        self._sending: set[asyncio.Task[None]] = set()

    def notify(self) -> None:
        task = asyncio.get_running_loop().create_task(self._send())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self) -> None:
        try:
            async with self._database.transaction() as connection:
                await connection.execute(sa.select(sa.func.pg_notify(CHANNEL, "")))
        except Exception as error:  # the processing process's poll finds the change anyway
            self._logger.debug("Could not notify the catalog's processing", error)

    async def close(self) -> None:
        """Wait for the notifications being sent."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)


class WakeListener:
    """Listens on one connection of the request pool (a processing process serves few
    requests) and calls `wake` on each notification; reconnects after a failure."""

    def __init__(
        self, database: DatabaseService, wake: Callable[[], None], logger: LoggerService
    ) -> None:
        self._database = database
        self._wake = wake
        self._logger = logger
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="catalog-wake-listener"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # its end (cancelled) is the stop, not an error
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _notified(self, *_: object) -> None:
        self._wake()

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._logger.warn("Listening for catalog changes failed; retrying", error)
            await asyncio.sleep(_RETRY_SECONDS)

    async def _listen(self) -> None:
        engine = await self._database.get_engine()
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            closed = asyncio.Event()
            driver.add_termination_listener(lambda *_: closed.set())
            await driver.add_listener(CHANNEL, self._notified)
            try:
                # changes committed before the listener was added
                self._wake()
                await closed.wait()
            finally:
                if not driver.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(driver.remove_listener(CHANNEL, self._notified))
