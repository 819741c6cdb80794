"""The catalog's permissions, exactly as `@backstage/plugin-catalog-common` 1.2.2 makes
them (`createPermission` of `@backstage/plugin-permission-common`)."""

from __future__ import annotations

from backstage_plugin_catalog_common import RESOURCE_TYPE_CATALOG_ENTITY, catalog_permissions
from backstage_plugin_permission_common import permission_to_json

_BACKSTAGE = [
    {
        "type": "resource",
        "name": "catalog.entity.read",
        "attributes": {"action": "read"},
        "resourceType": "catalog-entity",
    },
    {"type": "basic", "name": "catalog.entity.create", "attributes": {"action": "create"}},
    {
        "type": "resource",
        "name": "catalog.entity.delete",
        "attributes": {"action": "delete"},
        "resourceType": "catalog-entity",
    },
    {
        "type": "resource",
        "name": "catalog.entity.refresh",
        "attributes": {"action": "update"},
        "resourceType": "catalog-entity",
    },
    {"type": "basic", "name": "catalog.entity.validate", "attributes": {}},
    {"type": "basic", "name": "catalog.location.read", "attributes": {"action": "read"}},
    {"type": "basic", "name": "catalog.location.create", "attributes": {"action": "create"}},
    {"type": "basic", "name": "catalog.location.delete", "attributes": {"action": "delete"}},
    {"type": "basic", "name": "catalog.location.analyze", "attributes": {}},
    {"type": "basic", "name": "catalog.ingestion.read", "attributes": {"action": "read"}},
    {"type": "basic", "name": "catalog.ingestion.manage", "attributes": {"action": "update"}},
]


def test_permissions_are_backstages() -> None:
    assert RESOURCE_TYPE_CATALOG_ENTITY == "catalog-entity"
    assert [permission_to_json(permission) for permission in catalog_permissions] == _BACKSTAGE
