"""Permission policies and the extension point a module sets one through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from backstage_backend_plugin_api import (
    BackstageCredentials,
    ExtensionPoint,
    create_extension_point,
)
from backstage_plugin_permission_common import Permission, PolicyDecision

__all__ = [
    "PermissionPolicy",
    "PolicyExtensionPoint",
    "PolicyQuery",
    "PolicyQueryUser",
    "policy_extension_point",
]


@dataclass(frozen=True)
class PolicyQuery:
    """What a policy is asked to decide.

    Args:
        permission: the permission asked for.
    """

    permission: Permission


@dataclass(frozen=True)
class PolicyQueryUser:
    """The signed-in user a decision is for.

    Args:
        user_entity_ref: the user's entity ref, e.g. `user:default/jane`.
        ownership_entity_refs: the refs the user owns through: itself and its groups.
        credentials: the user's credentials (direct, or a plugin's on the user's behalf).
    """

    user_entity_ref: str
    ownership_entity_refs: Sequence[str] = ()
    credentials: BackstageCredentials[Any] | None = field(default=None, repr=False)


class PermissionPolicy(Protocol):
    """Decides permissions: ALLOW, DENY, or CONDITIONAL on a resource type's rules."""

    async def handle(self, request: PolicyQuery, user: PolicyQueryUser | None) -> PolicyDecision:
        """The decision for one permission.

        Args:
            request: what is asked.
            user: the user it is asked for; None when the caller is not a user.
        """
        ...


class PolicyExtensionPoint(Protocol):
    """`permission.policy`: how a module installs the permission plugin's policy."""

    def set_policy(self, policy: PermissionPolicy) -> None:
        """Install the policy; a second module setting one stops the start.

        Args:
            policy: the policy the permission plugin asks.
        """
        ...


policy_extension_point: ExtensionPoint[PolicyExtensionPoint] = create_extension_point(
    id="permission.policy"
)
"""The permission plugin's extension point for its policy (id `permission.policy`)."""
