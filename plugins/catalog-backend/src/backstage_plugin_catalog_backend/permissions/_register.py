"""Registering the catalog with the permissions registry: the `catalog-entity` resource
type, its six rules, all eleven catalog permissions, and how entities are loaded by ref
when the permission backend asks the catalog to apply conditions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import msgspec
from backstage_backend_plugin_api import PermissionResourceRef, PermissionsRegistryService
from backstage_plugin_catalog_common import (
    RESOURCE_TYPE_CATALOG_ENTITY,
    Predicate,
    catalog_permission_rules,
    catalog_permissions,
)
from backstage_plugin_permission_node import (
    ConcretePermissionRule,
    create_permission_resource_ref,
    create_permission_rule,
)

__all__ = ["CATALOG_ENTITY_RESOURCE_REF", "catalog_entity_rules", "register_catalog_permissions"]

Entity = dict[str, Any]

CATALOG_ENTITY_RESOURCE_REF: Final[PermissionResourceRef[Entity, Predicate]] = (
    create_permission_resource_ref(plugin_id="catalog", resource_type=RESOURCE_TYPE_CATALOG_ENTITY)
)
"""The catalog's entities as a resource type: decided on as entity JSON, queried as
filter predicates."""


def catalog_entity_rules() -> list[ConcretePermissionRule[Entity, Predicate]]:
    """The catalog's rules as permission rules: `apply` to an entity's JSON, `to_query` a
    predicate of the catalog's filter model."""
    return [
        create_permission_rule(
            name=rule.name,
            description=rule.description,
            resource_ref=CATALOG_ENTITY_RESOURCE_REF,
            params_schema=rule.params_schema,
            apply=rule.apply,
            to_query=rule.to_predicate,
        )
        for rule in catalog_permission_rules
    ]


def register_catalog_permissions(
    registry: PermissionsRegistryService,
    entity_texts: Callable[[Sequence[str]], Awaitable[dict[str, str]]],
) -> None:
    """Add the catalog's resource type, rules and permissions to `registry`.

    Args:
        registry: the plugin's permissions registry.
        entity_texts: stored entity JSON by lowercased ref, for the refs that exist,
            read without any permission filter (the permission backend decides on them).
    """

    async def get_resources(refs: Sequence[str]) -> list[Entity | None]:
        found = await entity_texts(refs)
        texts = [found.get(ref.lower()) for ref in refs]
        return [None if text is None else msgspec.json.decode(text) for text in texts]

    registry.add_resource_type(
        resource_ref=CATALOG_ENTITY_RESOURCE_REF,
        rules=catalog_entity_rules(),
        permissions=list(catalog_permissions),
        get_resources=get_resources,
    )
