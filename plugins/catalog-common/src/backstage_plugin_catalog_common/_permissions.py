"""The catalog's permissions, as `@backstage/plugin-catalog-common` defines them, made with
permission-common's `create_permission`.

A permission is what a policy decides on: its `name`, its `attributes` (the `action`) and,
for a resource permission, the `resourceType` of the resources it is checked against. The
catalog checks eight of them itself (see its services); `catalog.entity.create` and the two
ingestion permissions are for other plugins and the frontend, and all eleven are published
in the catalog's permission metadata.
"""

from __future__ import annotations

from typing import Final

from backstage_plugin_permission_common import (
    BasicPermission,
    Permission,
    ResourcePermission,
    create_permission,
)

__all__ = [
    "RESOURCE_TYPE_CATALOG_ENTITY",
    "catalog_entity_create_permission",
    "catalog_entity_delete_permission",
    "catalog_entity_read_permission",
    "catalog_entity_refresh_permission",
    "catalog_entity_validate_permission",
    "catalog_ingestion_manage_permission",
    "catalog_ingestion_read_permission",
    "catalog_location_analyze_permission",
    "catalog_location_create_permission",
    "catalog_location_delete_permission",
    "catalog_location_read_permission",
    "catalog_permissions",
]

RESOURCE_TYPE_CATALOG_ENTITY: Final = "catalog-entity"
"""The resource type of the catalog's entities."""

catalog_entity_read_permission: Final[ResourcePermission] = create_permission(
    "catalog.entity.read", action="read", resource_type=RESOURCE_TYPE_CATALOG_ENTITY
)
"""Reading entities."""
catalog_entity_create_permission: Final[BasicPermission] = create_permission(
    "catalog.entity.create", action="create"
)
"""Creating entities (registering their location)."""
catalog_entity_delete_permission: Final[ResourcePermission] = create_permission(
    "catalog.entity.delete", action="delete", resource_type=RESOURCE_TYPE_CATALOG_ENTITY
)
"""Deleting an entity."""
catalog_entity_refresh_permission: Final[ResourcePermission] = create_permission(
    "catalog.entity.refresh", action="update", resource_type=RESOURCE_TYPE_CATALOG_ENTITY
)
"""Asking for an entity to be refreshed."""
catalog_entity_validate_permission: Final[BasicPermission] = create_permission(
    "catalog.entity.validate"
)
"""Validating an entity."""
catalog_location_read_permission: Final[BasicPermission] = create_permission(
    "catalog.location.read", action="read"
)
"""Reading locations."""
catalog_location_create_permission: Final[BasicPermission] = create_permission(
    "catalog.location.create", action="create"
)
"""Registering a location."""
catalog_location_delete_permission: Final[BasicPermission] = create_permission(
    "catalog.location.delete", action="delete"
)
"""Removing a location."""
catalog_location_analyze_permission: Final[BasicPermission] = create_permission(
    "catalog.location.analyze"
)
"""Analyzing a location."""
catalog_ingestion_read_permission: Final[BasicPermission] = create_permission(
    "catalog.ingestion.read", action="read"
)
"""Reading the state of the catalog's ingestion."""
catalog_ingestion_manage_permission: Final[BasicPermission] = create_permission(
    "catalog.ingestion.manage", action="update"
)
"""Managing the catalog's ingestion."""

catalog_permissions: Final[tuple[Permission, ...]] = (
    catalog_entity_read_permission,
    catalog_entity_create_permission,
    catalog_entity_delete_permission,
    catalog_entity_refresh_permission,
    catalog_entity_validate_permission,
    catalog_location_read_permission,
    catalog_location_create_permission,
    catalog_location_delete_permission,
    catalog_location_analyze_permission,
    catalog_ingestion_read_permission,
    catalog_ingestion_manage_permission,
)
"""Every permission of the catalog, in Backstage's order."""
