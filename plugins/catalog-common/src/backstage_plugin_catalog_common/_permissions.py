"""The catalog's permissions, as `@backstage/plugin-catalog-common` defines them.

A permission is what a policy decides on: its `name`, its `attributes` (the `action`) and,
for a resource permission, the `resourceType` of the resources it is checked against. The
JSON form is Backstage's, so that a permission backend and its policies see the same
permissions from this catalog as from Backstage's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "RESOURCE_TYPE_CATALOG_ENTITY",
    "Permission",
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

PermissionAction = Literal["create", "read", "update", "delete"]


@dataclass(frozen=True)
class Permission:
    """A permission, as Backstage's `createPermission` makes it.

    Args:
        name: the permission's unique name (`catalog.entity.read`).
        action: the `action` attribute, or None when the permission has none.
        resource_type: the type of resource it is checked against; None for a basic
            permission.
    """

    name: str
    action: PermissionAction | None = None
    resource_type: str | None = field(default=None)

    @property
    def type(self) -> Literal["basic", "resource"]:
        """`resource` when the permission has a resource type, else `basic`."""
        return "basic" if self.resource_type is None else "resource"

    def to_json(self) -> dict[str, Any]:
        """The permission as Backstage serializes it: `type`, `name`, `attributes` and, for a
        resource permission, `resourceType`."""
        data: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "attributes": {} if self.action is None else {"action": self.action},
        }
        if self.resource_type is not None:
            data["resourceType"] = self.resource_type
        return data


catalog_entity_read_permission: Final = Permission(
    "catalog.entity.read", "read", RESOURCE_TYPE_CATALOG_ENTITY
)
"""Reading entities."""
catalog_entity_create_permission: Final = Permission("catalog.entity.create", "create")
"""Creating entities (registering their location)."""
catalog_entity_delete_permission: Final = Permission(
    "catalog.entity.delete", "delete", RESOURCE_TYPE_CATALOG_ENTITY
)
"""Deleting an entity."""
catalog_entity_refresh_permission: Final = Permission(
    "catalog.entity.refresh", "update", RESOURCE_TYPE_CATALOG_ENTITY
)
"""Asking for an entity to be refreshed."""
catalog_entity_validate_permission: Final = Permission("catalog.entity.validate")
"""Validating an entity."""
catalog_location_read_permission: Final = Permission("catalog.location.read", "read")
"""Reading locations."""
catalog_location_create_permission: Final = Permission("catalog.location.create", "create")
"""Registering a location."""
catalog_location_delete_permission: Final = Permission("catalog.location.delete", "delete")
"""Removing a location."""
catalog_location_analyze_permission: Final = Permission("catalog.location.analyze")
"""Analyzing a location."""
catalog_ingestion_read_permission: Final = Permission("catalog.ingestion.read", "read")
"""Reading the state of the catalog's ingestion."""
catalog_ingestion_manage_permission: Final = Permission("catalog.ingestion.manage", "update")
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
