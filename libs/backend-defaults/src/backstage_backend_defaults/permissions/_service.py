"""core.permissions: decisions for a caller, as Backstage's `ServerPermissionClient`.

1. Service principals are decided here without a call: ALLOW, unless their access
   restrictions (`backend.auth.externalAccess[].accessRestrictions`) exclude the
   permission's name or action, then DENY. This holds even with permissions disabled.
2. With `permission.enabled` not true, everything is ALLOW and no call is made.
3. Otherwise the permission plugin decides (`PermissionBackendClient`: batched, cached
   per token).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backstage_backend_plugin_api import (
    AuthorizePermissionRequest,
    BackstageCredentials,
    BackstageServicePrincipal,
    QueryPermissionRequest,
)
from backstage_plugin_permission_common import (
    AuthorizeResult,
    DefinitivePolicyDecision,
    Permission,
    PolicyDecision,
)

from backstage_backend_defaults.permissions._client import (
    PermissionBackendClient,
    PermissionQuestion,
)

__all__ = ["DefaultPermissionsService"]

_ALLOW = DefinitivePolicyDecision(AuthorizeResult.ALLOW)
_DENY = DefinitivePolicyDecision(AuthorizeResult.DENY)


def _service_decision(
    principal: BackstageServicePrincipal, permission: Permission
) -> DefinitivePolicyDecision:
    restrictions = principal.access_restrictions
    if restrictions is None:
        return _ALLOW
    names = restrictions.permission_names
    if names is not None and permission.name not in names:
        return _DENY
    attributes = restrictions.permission_attributes or {}
    actions = attributes.get("action")
    if actions is not None:
        action = permission.attributes.action
        if action is None or action not in actions:
            return _DENY
    return _ALLOW


class DefaultPermissionsService:
    """`core.permissions` of one plugin."""

    def __init__(self, *, enabled: bool, client: PermissionBackendClient) -> None:
        self._enabled = enabled
        self._client = client

    async def authorize(
        self,
        requests: Sequence[AuthorizePermissionRequest],
        *,
        credentials: BackstageCredentials[Any],
    ) -> list[DefinitivePolicyDecision]:
        local = self._local(credentials, [r.permission for r in requests])
        if local is not None:
            return local
        questions = [PermissionQuestion(r.permission, r.resource_ref) for r in requests]
        decisions = await self._client.decide(questions, credentials)
        return [d for d in decisions if isinstance(d, DefinitivePolicyDecision)]

    async def authorize_conditional(
        self,
        requests: Sequence[QueryPermissionRequest],
        *,
        credentials: BackstageCredentials[Any],
    ) -> list[PolicyDecision]:
        local = self._local(credentials, [r.permission for r in requests])
        if local is not None:
            return list(local)
        questions = [PermissionQuestion(r.permission, conditional=True) for r in requests]
        return await self._client.decide(questions, credentials)

    def _local(
        self, credentials: BackstageCredentials[Any], permissions: Sequence[Permission]
    ) -> list[DefinitivePolicyDecision] | None:
        principal = credentials.principal
        if isinstance(principal, BackstageServicePrincipal):
            return [_service_decision(principal, p) for p in permissions]
        if not self._enabled:
            return [_ALLOW for _ in permissions]
        return None
