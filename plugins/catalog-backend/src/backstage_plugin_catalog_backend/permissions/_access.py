"""The decisions the catalog's services act on, for the caller of a request.

A resource permission asked without a resource (`authorize_conditional`) gives an
`EntityAccess`: every entity, none, or those a predicate matches. The predicate is the
policy's conditions turned into the catalog's filter model (each rule's `to_query`, with
`allOf`/`anyOf`/`not` as `$all`/`$any`/`$not`), which the services AND into the SQL of
their reads, so that counts, pages and facets stay exact.

The caller's credentials are passed on as they are: the permissions service answers a
service principal (another plugin, an external caller) itself, and asks the policy about
users. When permissions are off it answers ALLOW without a call, and this costs nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from backstage_backend_plugin_api import (
    AuthorizePermissionRequest,
    BackstageCredentials,
    PermissionsService,
    QueryPermissionRequest,
)
from backstage_common.errors import NotAllowedError
from backstage_plugin_catalog_common import Predicate, combine_all
from backstage_plugin_permission_common import (
    AllOf,
    AnyOf,
    BasicPermission,
    ConditionalPolicyDecision,
    Not,
    PermissionCondition,
    PermissionCriteria,
    ResourcePermission,
)

__all__ = [
    "ALL_ENTITIES",
    "NO_ENTITIES",
    "CatalogPermissions",
    "EntityAccess",
    "criteria_predicate",
    "not_allowed",
]

_PREDICATES_KEPT = 1024
"""Conditional decisions whose predicate is kept (each holds its decision alive)."""
Transform = Callable[[PermissionCriteria[PermissionCondition]], PermissionCriteria[Predicate]]


@dataclass(frozen=True, slots=True)
class EntityAccess:
    """Which entities a caller may act on under one permission.

    Args:
        denied: no entity at all.
        predicate: when not denied, the predicate the entities must match; None: every
            entity.
    """

    denied: bool = False
    predicate: Predicate | None = None

    def restrict(self, predicate: Predicate | None) -> Predicate | None:
        """`predicate` (the caller's filter) ANDed with this access's predicate.

        Args:
            predicate: the caller's own filter, or None.
        """
        if self.predicate is None:
            return predicate
        return combine_all([predicate, self.predicate])


ALL_ENTITIES: Final = EntityAccess()
"""Every entity."""
NO_ENTITIES: Final = EntityAccess(denied=True)
"""No entity."""


def criteria_predicate(criteria: PermissionCriteria[Predicate]) -> Predicate:
    """Transformed criteria (predicate leaves) as one predicate.

    Args:
        criteria: `AllOf`, `AnyOf` and `Not` over the rules' predicates.
    """
    if isinstance(criteria, AllOf):
        return {"$all": [criteria_predicate(item) for item in criteria.criteria]}
    if isinstance(criteria, AnyOf):
        return {"$any": [criteria_predicate(item) for item in criteria.criteria]}
    if isinstance(criteria, Not):
        return {"$not": criteria_predicate(criteria.criterion)}
    return criteria


def not_allowed(permission: BasicPermission | ResourcePermission) -> NotAllowedError:
    """The 403 for a permission the caller lacks (Backstage's message is empty; this one
    names the permission, which any caller may read in the metadata anyway).

    Args:
        permission: the permission denied.
    """
    return NotAllowedError(f"Not allowed: {permission.name}")


class CatalogPermissions:
    """The catalog's questions to the permissions service.

    Args:
        permissions: the plugin's permissions service.
        transform: turns conditions into predicates (`create_condition_transformer` over
            the `catalog-entity` ruleset).
    """

    def __init__(self, permissions: PermissionsService, transform: Transform) -> None:
        self._permissions = permissions
        self._transform = transform
        # The permissions service hands out the same decision object for a token while it
        # keeps it: its predicate is worked out once (checking the parameters against the
        # rules' schemas costs more than the rest of a cached read's permission work).
        self._predicates: OrderedDict[int, tuple[ConditionalPolicyDecision, Predicate]] = (
            OrderedDict()
        )

    async def entity_access(
        self, permission: ResourcePermission, credentials: BackstageCredentials[Any]
    ) -> EntityAccess:
        """Which entities the caller may act on under `permission`. InputError when the
        policy's conditions have invalid parameters.

        Args:
            permission: a `catalog-entity` permission (read, delete, refresh).
            credentials: the caller's.
        """
        [decision] = await self._permissions.authorize_conditional(
            [QueryPermissionRequest(permission)], credentials=credentials
        )
        if isinstance(decision, ConditionalPolicyDecision):
            return EntityAccess(predicate=self._predicate(decision))
        return ALL_ENTITIES if decision.allowed else NO_ENTITIES

    def _predicate(self, decision: ConditionalPolicyDecision) -> Predicate:
        kept = self._predicates.get(id(decision))
        if kept is not None and kept[0] is decision:
            self._predicates.move_to_end(id(decision))
            return kept[1]
        predicate = criteria_predicate(self._transform(decision.conditions))
        self._predicates[id(decision)] = (decision, predicate)
        if len(self._predicates) > _PREDICATES_KEPT:
            self._predicates.popitem(last=False)
        return predicate

    async def allowed(
        self, permission: BasicPermission, credentials: BackstageCredentials[Any]
    ) -> bool:
        """Whether the caller is allowed a basic permission.

        Args:
            permission: a basic permission (location read, create, ...).
            credentials: the caller's.
        """
        [decision] = await self._permissions.authorize(
            [AuthorizePermissionRequest(permission)], credentials=credentials
        )
        return decision.allowed

    async def require(
        self, permission: BasicPermission, credentials: BackstageCredentials[Any]
    ) -> None:
        """Raise NotAllowedError (403) unless the caller is allowed a basic permission.

        Args:
            permission: a basic permission.
            credentials: the caller's.
        """
        if not await self.allowed(permission, credentials):
            raise not_allowed(permission)
