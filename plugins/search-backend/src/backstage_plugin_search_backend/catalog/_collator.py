"""The `software-catalog` collator and its config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

from backstage_backend_plugin_api import SchedulerServiceTaskScheduleDefinition
from backstage_common.config import Config
from backstage_common.errors import InputError
from backstage_plugin_search_node import IndexableDocument

from backstage_plugin_search_backend._schedule import read_schedule
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


def _filter_param(config: Config, key: str) -> str:
    statements = []
    for name in config.keys():
        value = config.get(name)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str):
                raise InputError(f"Invalid {config.full_key(name)} in {key}: use strings")
            statements.append(f"{name}={item}")
    return ",".join(statements)


def _filters(config: Config) -> tuple[str, ...]:
    key = f"{_KEY}.filter"
    value = config.get_optional(key)
    if value is None:
        return ()
    if isinstance(value, list):
        sections = config.get_config_array(key)
    elif isinstance(value, dict):
        sections = [config.get_config(key)]
    else:
        raise InputError(f"Invalid {key}: use an entity filter object or a list of them")
    return tuple(param for section in sections if (param := _filter_param(section, key)))


def read_catalog_collator_settings(config: Config) -> CatalogCollatorSettings:
    batch_size = config.get_optional_number(f"{_KEY}.batchSize") or 500
    if not float(batch_size).is_integer() or batch_size < 1:
        raise InputError(f"Invalid {_KEY}.batchSize: must be a whole number greater than zero")
    return CatalogCollatorSettings(
        schedule=read_schedule(config, f"{_KEY}.schedule", DEFAULT_SCHEDULE),
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
