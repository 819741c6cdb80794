"""The catalog in the permission framework: its resource type and rules registered with the
permissions registry, and the decisions its services act on (`CatalogPermissions`)."""

from backstage_plugin_catalog_backend.permissions._access import (
    ALL_ENTITIES,
    NO_ENTITIES,
    CatalogPermissions,
    EntityAccess,
    criteria_predicate,
    not_allowed,
)
from backstage_plugin_catalog_backend.permissions._register import (
    CATALOG_ENTITY_RESOURCE_REF,
    catalog_entity_rules,
    register_catalog_permissions,
)

__all__ = [
    "ALL_ENTITIES",
    "CATALOG_ENTITY_RESOURCE_REF",
    "NO_ENTITIES",
    "CatalogPermissions",
    "EntityAccess",
    "catalog_entity_rules",
    "criteria_predicate",
    "not_allowed",
    "register_catalog_permissions",
]
