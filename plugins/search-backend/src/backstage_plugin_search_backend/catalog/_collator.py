"""The `software-catalog` collator and its config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

from backstage_backend_plugin_api import (
    SchedulerServiceTaskScheduleDefinition,
    read_scheduler_service_task_schedule_definition_from_config,
)
from backstage_common.config import Config
from backstage_common.errors import InputError
from backstage_plugin_search_node import IndexableDocument

from backstage_plugin_search_backend.catalog._documents import (
    DEFAULT_LOCATION_TEMPLATE,
    entity_document,
)
from backstage_plugin_search_backend.catalog._pages import CatalogPageReader

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
    filters: tuple[str, ...] = field(default=())
    """`filter=` parameters of the first page, e.g. `kind=component,kind=api`."""
    batch_size: int = 500


def _filter_param(value: object, key: str) -> str:
    """One entity filter object as a `filter=` parameter (its keys may contain dots)."""
    if not isinstance(value, dict):
        raise InputError(f"Invalid {key}: use an entity filter object or a list of them")
    statements = []
    for name, wanted in value.items():
        for item in wanted if isinstance(wanted, list) else [wanted]:
            if not isinstance(item, str):
                raise InputError(f"Invalid {key}.{name}: use a string or a list of strings")
            statements.append(f"{name}={item}")
    return ",".join(statements)


def _filters(config: Config) -> tuple[str, ...]:
    key = f"{_KEY}.filter"
    value = config.get_optional(key)
    if value is None:
        return ()
    full_key = config.full_key(key)
    items = value if isinstance(value, list) else [value]
    return tuple(param for item in items if (param := _filter_param(item, full_key)))


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
    """Every entity of the catalog as a `CatalogEntityDocument`, read page by page."""

    def __init__(self, *, reader: CatalogPageReader, location_template: str) -> None:
        self._reader = reader
        self._location_template = location_template

    @property
    def type(self) -> str:
        return "software-catalog"

    async def collate(self) -> AsyncIterator[IndexableDocument]:
        async for page in self._reader.pages():
            for entity in page:
                yield entity_document(entity, self._location_template)
