"""Policy decisions: `ALLOW`, `DENY`, or `CONDITIONAL` with the conditions to apply."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from backstage_common.errors import InputError

from backstage_plugin_permission_common._criteria import (
    PermissionCondition,
    PermissionCriteria,
    criteria_from_json,
    criteria_to_json,
)

__all__ = [
    "AuthorizeResult",
    "ConditionalPolicyDecision",
    "DefinitivePolicyDecision",
    "PolicyDecision",
    "decision_from_json",
    "decision_to_json",
]


class AuthorizeResult(StrEnum):
    """The result of an authorization: its JSON value is the member's name."""

    ALLOW = "ALLOW"
    DENY = "DENY"
    CONDITIONAL = "CONDITIONAL"


@dataclass(frozen=True)
class DefinitivePolicyDecision:
    """A decision that needs nothing more: `ALLOW` or `DENY`.

    Args:
        result: `AuthorizeResult.ALLOW` or `AuthorizeResult.DENY`.
    """

    result: Literal[AuthorizeResult.ALLOW, AuthorizeResult.DENY]

    def __post_init__(self) -> None:
        if self.result not in (AuthorizeResult.ALLOW, AuthorizeResult.DENY):
            raise ValueError("A definitive decision is ALLOW or DENY")

    @property
    def allowed(self) -> bool:
        """Whether the result is `ALLOW`."""
        return self.result is AuthorizeResult.ALLOW


ALLOW = DefinitivePolicyDecision(AuthorizeResult.ALLOW)
DENY = DefinitivePolicyDecision(AuthorizeResult.DENY)


@dataclass(frozen=True)
class ConditionalPolicyDecision:
    """Allowed for the resources that meet the conditions; the plugin owning the resource
    type applies them.

    Args:
        plugin_id: the plugin that owns the resource type and evaluates the conditions.
        resource_type: the resource type the conditions are about.
        conditions: the criteria, over that resource type's rules.
    """

    plugin_id: str
    resource_type: str
    conditions: PermissionCriteria[PermissionCondition]

    @property
    def result(self) -> Literal[AuthorizeResult.CONDITIONAL]:
        """Always `AuthorizeResult.CONDITIONAL`."""
        return AuthorizeResult.CONDITIONAL


PolicyDecision = DefinitivePolicyDecision | ConditionalPolicyDecision
"""Any decision a policy makes."""


def decision_to_json(decision: PolicyDecision) -> dict[str, Any]:
    """The decision as Backstage serializes it (`result`, and for a conditional one
    `pluginId`, `resourceType` and `conditions`).

    Args:
        decision: the decision to serialize.
    """
    if isinstance(decision, ConditionalPolicyDecision):
        return {
            "result": "CONDITIONAL",
            "pluginId": decision.plugin_id,
            "resourceType": decision.resource_type,
            "conditions": criteria_to_json(decision.conditions),
        }
    return {"result": decision.result.value}


def decision_from_json(data: Any, path: str = "decision") -> PolicyDecision:
    """A decision read from Backstage's JSON; InputError naming `path` when malformed.

    Args:
        data: the decoded JSON object (other keys, such as `id`, are ignored).
        path: where the value sits, for error messages.
    """
    if not isinstance(data, dict):
        raise InputError(f"Invalid {path}: expected an object")
    result = data.get("result")
    if result == "ALLOW":
        return ALLOW
    if result == "DENY":
        return DENY
    if result != "CONDITIONAL":
        raise InputError(f"Invalid {path}.result: expected ALLOW, DENY or CONDITIONAL")
    plugin_id = data.get("pluginId")
    resource_type = data.get("resourceType")
    if not isinstance(plugin_id, str):
        raise InputError(f"Invalid {path}.pluginId: expected a string")
    if not isinstance(resource_type, str):
        raise InputError(f"Invalid {path}.resourceType: expected a string")
    conditions = criteria_from_json(data.get("conditions"), f"{path}.conditions")
    return ConditionalPolicyDecision(plugin_id, resource_type, conditions)
