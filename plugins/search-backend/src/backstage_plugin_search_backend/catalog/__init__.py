"""The catalog collator: Backstage's `software-catalog` documents from the catalog plugin."""

from backstage_plugin_search_backend.catalog._collator import (
    CatalogCollatorFactory,
    CatalogCollatorSettings,
    read_catalog_collator_settings,
)
from backstage_plugin_search_backend.catalog._documents import (
    DEFAULT_LOCATION_TEMPLATE,
    ENTITY_FIELDS,
    entity_document,
)
from backstage_plugin_search_backend.catalog._module import search_module_catalog_collator

__all__ = [
    "DEFAULT_LOCATION_TEMPLATE",
    "ENTITY_FIELDS",
    "CatalogCollatorFactory",
    "CatalogCollatorSettings",
    "entity_document",
    "read_catalog_collator_settings",
    "search_module_catalog_collator",
]
