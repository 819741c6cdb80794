"""`RefreshService`: processing entities now, on request."""

from __future__ import annotations

from collections.abc import Callable, Collection

from backstage_backend_plugin_api import DatabaseService

from backstage_plugin_catalog_backend.processing import schedule_refresh
from backstage_plugin_catalog_backend.processing._deadlocks import retry_on_deadlock

__all__ = ["RefreshService"]


class RefreshService:
    """Makes entities due for processing now, in a transaction of the request pool;
    `changed` then wakes the processing loop."""

    def __init__(self, database: DatabaseService, changed: Callable[[], None]) -> None:
        self._database = database
        self._changed = changed

    async def refresh(self, refs: Collection[str]) -> None:
        """Process these entities and their `location:` ancestors now. Raises
        `NotFoundError` for a ref nothing references."""

        async def schedule() -> None:
            async with self._database.transaction() as connection:
                await schedule_refresh(connection, refs)

        await retry_on_deadlock(schedule)
        self._changed()
