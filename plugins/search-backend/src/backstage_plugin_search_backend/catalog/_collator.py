"""The `software-catalog` collator and its config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from backstage_backend_plugin_api import (
    DiscoveryService,
    SchedulerServiceTaskScheduleDefinition,
    read_scheduler_service_task_schedule_definition_from_config,
)
from backstage_common.config import Config
from backstage_common.errors import BackstageError, InputError, ServiceUnavailableError
from backstage_plugin_catalog_common import catalog_entity_read_permission
from backstage_plugin_catalog_node import CatalogClient
from backstage_plugin_permission_common import Permission
from backstage_plugin_search_node import IndexableDocument

from backstage_plugin_search_backend.catalog._documents import (
    DEFAULT_LOCATION_TEMPLATE,
    ENTITY_FIELDS,
    entity_document,
)

__all__ = ["CatalogCollatorFactory", "CatalogCollatorSettings", "read_catalog_collator_settings"]

_KEY = "search.collators.catalog"
DEFAULT_SCHEDULE = SchedulerServiceTaskScheduleDefinition(
    frequency=timedelta(minutes=10),
    timeout=timedelta(minutes=15),
    initial_delay=timedelta(seconds=3),
)


@dataclass(frozen=True)
class CatalogCollatorSettings:
    schedule: SchedulerServiceTaskScheduleDefinition = DEFAULT_SCHEDULE
    location_template: str = DEFAULT_LOCATION_TEMPLATE
    filters: tuple[dict[str, str | list[str]], ...] = field(default=())
    """Entity filter sets (ORed); none means every entity."""
    batch_size: int = 500


def _filter_set(value: object, key: str) -> dict[str, str | list[str]]:
    """One entity filter object (its keys may contain dots): keys ANDed, values ORed."""
    if not isinstance(value, dict):
        raise InputError(f"Invalid {key}: use an entity filter object or a list of them")
    filter_set: dict[str, str | list[str]] = {}
    for name, wanted in value.items():
        items = wanted if isinstance(wanted, list) else [wanted]
        if not all(isinstance(item, str) for item in items):
            raise InputError(f"Invalid {key}.{name}: use a string or a list of strings")
        filter_set[name] = list(items) if isinstance(wanted, list) else wanted
    return filter_set


def _filters(config: Config) -> tuple[dict[str, str | list[str]], ...]:
    key = f"{_KEY}.filter"
    value = config.get_optional(key)
    if value is None:
        return ()
    full_key = config.full_key(key)
    return tuple(
        _filter_set(item, full_key) for item in (value if isinstance(value, list) else [value])
    )


def read_catalog_collator_settings(config: Config) -> CatalogCollatorSettings:
    batch_size = config.get_optional_number(f"{_KEY}.batchSize") or 500
    if not float(batch_size).is_integer() or batch_size < 1:
        raise InputError(f"Invalid {_KEY}.batchSize: must be a whole number greater than zero")
    schedule = config.get_optional_config(f"{_KEY}.schedule")
    return CatalogCollatorSettings(
        schedule=DEFAULT_SCHEDULE
        if schedule is None
        else read_scheduler_service_task_schedule_definition_from_config(schedule),
        location_template=config.get_optional_string(f"{_KEY}.locationTemplate")
        or DEFAULT_LOCATION_TEMPLATE,
        filters=_filters(config),
        batch_size=int(batch_size),
    )


class CatalogCollatorFactory:
    """Every entity of the catalog as a `CatalogEntityDocument`, read page by page through
    the catalog's client (a cursor per page, only the fields documents are made of).

    The documents are visible to readers allowed `catalog.entity.read` on their entity
    (`authorization.resourceRef`), as Backstage's catalog collator declares."""

    def __init__(
        self,
        *,
        client: CatalogClient,
        discovery: DiscoveryService,
        settings: CatalogCollatorSettings,
    ) -> None:
        self._client = client
        self._discovery = discovery
        self._settings = settings

    @property
    def type(self) -> str:
        return "software-catalog"

    @property
    def visibility_permission(self) -> Permission:
        return catalog_entity_read_permission

    async def _pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        pages = self._client.stream_entities(
            filter=list(self._settings.filters) or None,
            fields=ENTITY_FIELDS,
            page_size=self._settings.batch_size,
        )
        try:
            async for page in pages:
                yield page
        except (httpx.HTTPError, BackstageError) as error:
            url = await self._discovery.get_base_url("catalog")
            raise ServiceUnavailableError(
                f"Could not read entities from the catalog at {url}: "
                f"{type(error).__name__}: {error}"
            ) from error

    async def collate(self) -> AsyncIterator[IndexableDocument]:
        async for page in self._pages():
            for entity in page:
                yield entity_document(entity, self._settings.location_template)
