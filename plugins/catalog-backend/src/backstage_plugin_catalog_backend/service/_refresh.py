"""`RefreshService`: processing entities now, on request."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from backstage_backend_plugin_api import BackstageCredentials, DatabaseService
from backstage_common.catalog_model import normalize_entity_ref_key
from backstage_plugin_catalog_common import catalog_entity_refresh_permission

from backstage_plugin_catalog_backend.api._queries import entity_text_where
from backstage_plugin_catalog_backend.permissions import CatalogPermissions, not_allowed
from backstage_plugin_catalog_backend.processing import schedule_refresh
from backstage_plugin_catalog_backend.processing._deadlocks import retry_on_deadlock

__all__ = ["RefreshService"]


class RefreshService:
    """Makes entities due for processing now, in a transaction of the request pool;
    `changed` then wakes the processing loop."""

    def __init__(
        self,
        database: DatabaseService,
        changed: Callable[[], None],
        permissions: CatalogPermissions,
    ) -> None:
        self._database = database
        self._changed = changed
        self._permissions = permissions

    async def refresh_entity(self, ref: str, credentials: BackstageCredentials[Any]) -> None:
        """`refresh([ref])` for a caller, who needs `catalog.entity.refresh` for the entity
        (NotAllowedError otherwise; under a conditional decision, also for a missing one)."""
        permission = catalog_entity_refresh_permission
        access = await self._permissions.entity_access(permission, credentials)
        if access.denied:
            raise not_allowed(permission)
        if access.predicate is not None:
            engine = await self._database.get_engine()
            async with engine.connect() as connection:
                text = await entity_text_where(
                    connection, "entity_ref", normalize_entity_ref_key(ref), access.predicate
                )
            if text is None:
                raise not_allowed(permission)
        await self.refresh([ref])

    async def refresh(self, refs: Collection[str]) -> None:
        """Process these entities and their `location:` ancestors now. Raises
        `NotFoundError` for a ref nothing references."""

        async def schedule() -> None:
            async with self._database.transaction() as connection:
                await schedule_refresh(connection, refs)

        await retry_on_deadlock(schedule)
        self._changed()
