"""`POST /authorize`: each item decided by the policy; conditional decisions for given
resources resolved by the plugins owning them (batched per plugin), as Backstage's
permission backend does."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from backstage_backend_plugin_api import (
    BackstageCredentials,
    BackstageNonePrincipal,
    BackstageUserPrincipal,
)
from backstage_common.errors import InputError
from backstage_plugin_permission_common import (
    AuthorizeRequestItem,
    AuthorizeResponseItem,
    ConditionalPolicyDecision,
    DefinitivePolicyDecision,
    PolicyDecision,
    ResourcePermission,
)
from backstage_plugin_permission_node import PermissionPolicy, PolicyQuery, PolicyQueryUser

from backstage_plugin_permission_backend._conditions import ConditionalItem, ConditionResolver
from backstage_plugin_permission_backend._user_info import UserInfoLookup

__all__ = ["Authorizer", "PolicyDecisionError"]


class PolicyDecisionError(Exception):
    """The policy made a conditional decision that cannot apply to the permission (a
    basic permission, or another resource type): the policy's mistake, a 500."""


class Authorizer:
    """Decides the items of one `/authorize` request for one caller.

    Conditions (a resource permission without `resourceRef`) are answered to plugins acting
    for a user only, as in Backstage. With `anonymous_conditions` (the backend lets callers
    without credentials in: `backend.auth.dangerouslyDisableDefaultAuthPolicy`) they are
    answered to callers without credentials too: a plugin asking for an anonymous reader
    sends no token, and refusing it would make every read of that reader fail, where
    Backstage answers those reads with a 500.
    """

    def __init__(
        self,
        policy: PermissionPolicy,
        users: UserInfoLookup,
        resolver: ConditionResolver,
        *,
        anonymous_conditions: bool = False,
    ) -> None:
        self._policy = policy
        self._users = users
        self._resolver = resolver
        self._anonymous_conditions = anonymous_conditions

    async def authorize(
        self, items: Sequence[AuthorizeRequestItem], credentials: BackstageCredentials[Any]
    ) -> list[AuthorizeResponseItem]:
        """The response items, in request order."""
        principal = credentials.principal
        if isinstance(principal, BackstageUserPrincipal):
            direct = principal.actor is None
        else:
            direct = not (
                self._anonymous_conditions and isinstance(principal, BackstageNonePrincipal)
            )
        if direct and any(
            isinstance(item.permission, ResourcePermission) and item.resource_ref is None
            for item in items
        ):
            raise InputError(
                "Resource permissions require a resourceRef to be set. Direct user requests "
                "without a resourceRef are not allowed."
            )
        user: PolicyQueryUser | None = None
        if isinstance(principal, BackstageUserPrincipal):
            user = await self._users.user(credentials)
        decisions = await asyncio.gather(
            *(self._policy.handle(PolicyQuery(item.permission), user) for item in items)
        )
        by_plugin: dict[str, list[ConditionalItem]] = {}
        for item, decision in zip(items, decisions, strict=True):
            if isinstance(decision, ConditionalPolicyDecision):
                _check_conditional(item, decision)
                if item.resource_ref is not None:
                    by_plugin.setdefault(decision.plugin_id, []).append(
                        (item.id, item.resource_ref, decision)
                    )
        resolved: dict[str, Any] = {}
        answers = await asyncio.gather(
            *(
                self._resolver.resolve(plugin_id, plugin_items, credentials)
                for plugin_id, plugin_items in by_plugin.items()
            )
        )
        for answer in answers:
            resolved.update(answer)
        return [
            _response(item, decision, resolved)
            for item, decision in zip(items, decisions, strict=True)
        ]


def _check_conditional(item: AuthorizeRequestItem, decision: ConditionalPolicyDecision) -> None:
    permission = item.permission
    if not isinstance(permission, ResourcePermission):
        raise PolicyDecisionError(
            f"Conditional decision returned from permission policy for non-resource "
            f"permission {permission.name}"
        )
    if decision.resource_type != permission.resource_type:
        raise PolicyDecisionError(
            f"Invalid resource conditions returned from permission policy for permission "
            f"{permission.name}"
        )


def _response(
    item: AuthorizeRequestItem, decision: PolicyDecision, resolved: dict[str, Any]
) -> AuthorizeResponseItem:
    if isinstance(decision, ConditionalPolicyDecision) and item.resource_ref is not None:
        result = resolved[item.id]
        if isinstance(result, tuple):
            return AuthorizeResponseItem(item.id, result)
        return AuthorizeResponseItem(item.id, DefinitivePolicyDecision(result))
    return AuthorizeResponseItem(item.id, decision)
