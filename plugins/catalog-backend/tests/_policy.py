"""A `core.permissions` that decides from a table, for the catalog's permission tests.

The catalog asks the permissions service; what a policy answers is not what these tests are
about (the permission plugin has its own), so a table stands in for it: per user, per
permission name, ALLOW, DENY or CONDITIONAL with conditions. Service principals are allowed
at once, as the real service does. Every ask is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from backstage_backend_plugin_api import (
    AuthorizePermissionRequest,
    BackstageCredentials,
    BackstageServicePrincipal,
    BackstageUserPrincipal,
    QueryPermissionRequest,
    ServiceFactory,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core
from backstage_plugin_permission_common import (
    AllOf,
    AnyOf,
    AuthorizeResult,
    ConditionalPolicyDecision,
    DefinitivePolicyDecision,
    Not,
    PermissionCondition,
    PermissionCriteria,
    PolicyDecision,
)

ALLOW = DefinitivePolicyDecision(AuthorizeResult.ALLOW)
DENY = DefinitivePolicyDecision(AuthorizeResult.DENY)

Criteria = PermissionCriteria[PermissionCondition]


def condition(rule: str, **params: Any) -> PermissionCondition:
    return PermissionCondition(rule, "catalog-entity", params)


def all_of(*criteria: Criteria) -> Criteria:
    return AllOf(tuple(criteria))


def any_of(*criteria: Criteria) -> Criteria:
    return AnyOf(tuple(criteria))


def not_(criterion: Criteria) -> Criteria:
    return Not(criterion)


def conditional(criteria: Criteria) -> ConditionalPolicyDecision:
    return ConditionalPolicyDecision("catalog", "catalog-entity", criteria)


@dataclass
class TablePolicy:
    """Decisions by user ref, then permission name; `default` for anything not listed."""

    users: dict[str, dict[str, PolicyDecision]] = field(default_factory=dict)
    default: PolicyDecision = ALLOW
    asked: list[tuple[str, str]] = field(default_factory=list)
    """(principal, permission name) of every ask, in order."""

    def decide(self, credentials: BackstageCredentials[Any], name: str) -> PolicyDecision:
        principal = credentials.principal
        if isinstance(principal, BackstageServicePrincipal):
            self.asked.append((principal.subject, name))
            return ALLOW
        user = principal.user_entity_ref if isinstance(principal, BackstageUserPrincipal) else ""
        self.asked.append((user, name))
        return self.users.get(user, {}).get(name, self.default)


class TablePermissions:
    """`PermissionsService` over a `TablePolicy`."""

    def __init__(self, policy: TablePolicy) -> None:
        self.policy = policy

    async def authorize(
        self,
        requests: Sequence[AuthorizePermissionRequest],
        *,
        credentials: BackstageCredentials[Any],
    ) -> list[DefinitivePolicyDecision]:
        decisions = []
        for request in requests:
            assert request.resource_ref is None, "the catalog decides resources in SQL"
            decision = self.policy.decide(credentials, request.permission.name)
            assert isinstance(decision, DefinitivePolicyDecision), "basic permissions only"
            decisions.append(decision)
        return decisions

    async def authorize_conditional(
        self,
        requests: Sequence[QueryPermissionRequest],
        *,
        credentials: BackstageCredentials[Any],
    ) -> list[PolicyDecision]:
        return [self.policy.decide(credentials, r.permission.name) for r in requests]


def table_permissions_factory(policy: TablePolicy) -> ServiceFactory[Any]:
    """A factory installing `TablePermissions` as every plugin's `core.permissions`."""
    return create_service_factory(
        service=core.permissions, factory=lambda: TablePermissions(policy)
    )


def policy_for(user: str, decisions: Mapping[str, PolicyDecision]) -> TablePolicy:
    return TablePolicy(users={user: dict(decisions)})
