"""backstage_plugin_catalog_node: what other plugins and modules use of the catalog."""

from backstage_plugin_catalog_node._client import (
    CATALOG_FILTER_EXISTS,
    CatalogClient,
    EntityFilterQuery,
    EntityOrderField,
    FacetBucket,
    QueryEntitiesPage,
)

__all__ = [
    "CATALOG_FILTER_EXISTS",
    "CatalogClient",
    "EntityFilterQuery",
    "EntityOrderField",
    "FacetBucket",
    "QueryEntitiesPage",
]
