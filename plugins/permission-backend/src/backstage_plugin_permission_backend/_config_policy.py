"""The policy read from `permission.policy`, for teams that want rules without code.

```yaml
permission:
  policy:
    default: deny                          # or allow: when no rule matches
    rules:
      - permission: catalog.entity.read    # a permission name, and/or
        resourceType: catalog-entity       # every permission on a resource type
        members: [group:default/platform]  # users or groups; omitted: everyone
        decision: conditional              # allow | deny | conditional
        pluginId: catalog                  # conditional only; default: see below
        conditions:
          anyOf:
            - {rule: IS_ENTITY_OWNER, params: {claims: $ownerRefs}}
            - {rule: IS_ENTITY_KIND, params: {kinds: [component, api]}}
```

Rules are tried in order and the **first** that matches decides; `default` decides when
none does. A rule matches a permission by its name (`permission`), its resource type
(`resourceType`), or both when both are given; and a caller when `members` is omitted, or
holds the caller's user ref or one of its ownership refs (its groups). A caller that is no
user (no token, with the default auth policy disabled) matches only rules without
`members`. In condition parameters `$currentUser` stands for the caller's user ref and
`$ownerRefs` for its ownership refs (spread into an array that holds it), as Red Hat
Developer Hub's RBAC aliases; for a caller that is no user a conditional rule that uses
them is DENY. A conditional rule needs `resourceType` (its conditions' rules belong to
that type); the plugin that owns the type applies them: `pluginId`, by default the resource
type up to its first `-` (Backstage's naming: `catalog-entity` belongs to `catalog`). The
rule names and their parameters are checked by that plugin when it applies them. The
policy's shape is checked when the backend starts; a malformed one stops the start with a
message naming the rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from backstage_common.errors import InputError
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
    ResourcePermission,
    map_criteria,
)
from backstage_plugin_permission_node import PolicyQuery, PolicyQueryUser

__all__ = ["ConfigPolicy", "read_config_policy"]

_ALLOW = DefinitivePolicyDecision(AuthorizeResult.ALLOW)
_DENY = DefinitivePolicyDecision(AuthorizeResult.DENY)
_CURRENT_USER = "$currentUser"
_OWNER_REFS = "$ownerRefs"
_PLACEHOLDER = re.compile(r"^\$[A-Za-z][A-Za-z0-9]*$")
_MEMBER = re.compile(r"^(user|group):(?:([^:/\s]+)/)?([^:/\s]+)$", re.IGNORECASE)
_RULE_KEYS = frozenset(
    {"permission", "resourceType", "members", "decision", "conditions", "pluginId"}
)
_MAX_DEPTH = 16

Decision = Literal["allow", "deny", "conditional"]


@dataclass(frozen=True)
class _Leaf:
    rule: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class _Rule:
    permission: str | None
    resource_type: str | None
    members: frozenset[str] | None
    decision: Decision
    plugin_id: str | None
    conditions: PermissionCriteria[_Leaf] | None
    uses_placeholders: bool

    def matches(self, permission: Any, user: PolicyQueryUser | None) -> bool:
        if self.permission is not None and permission.name != self.permission:
            return False
        if self.resource_type is not None and (
            not isinstance(permission, ResourcePermission)
            or permission.resource_type != self.resource_type
        ):
            return False
        if self.members is None:
            return True
        if user is None:
            return False
        refs = {user.user_entity_ref.lower(), *(r.lower() for r in user.ownership_entity_refs)}
        return not self.members.isdisjoint(refs)


class ConfigPolicy:
    """The policy of `permission.policy`: the first matching rule decides."""

    def __init__(self, default: DefinitivePolicyDecision, rules: Sequence[_Rule]) -> None:
        self._default = default
        self._rules = tuple(rules)

    async def handle(self, request: PolicyQuery, user: PolicyQueryUser | None) -> PolicyDecision:
        """The first matching rule's decision, or the default.

        Args:
            request: the permission asked for.
            user: the user asking; None for a caller that is no user.
        """
        for rule in self._rules:
            if not rule.matches(request.permission, user):
                continue
            if rule.decision == "allow":
                return _ALLOW
            if rule.decision == "deny":
                return _DENY
            return self._conditional(rule, user)
        return self._default

    @staticmethod
    def _conditional(rule: _Rule, user: PolicyQueryUser | None) -> PolicyDecision:
        if rule.conditions is None or rule.resource_type is None or rule.plugin_id is None:
            raise AssertionError("a conditional rule is read with its conditions")
        if user is None and rule.uses_placeholders:
            return _DENY
        resource_type = rule.resource_type

        def leaf(condition: _Leaf) -> PermissionCondition:
            params = {key: _resolve(value, user) for key, value in condition.params.items()}
            return PermissionCondition(condition.rule, resource_type, params)

        return ConditionalPolicyDecision(
            rule.plugin_id, resource_type, map_criteria(rule.conditions, leaf)
        )


def _resolve(value: Any, user: PolicyQueryUser | None) -> Any:
    if user is None:
        return value
    if value == _CURRENT_USER:
        return user.user_entity_ref
    if value == _OWNER_REFS:
        return list(user.ownership_entity_refs)
    if isinstance(value, list):
        resolved: list[Any] = []
        for item in value:
            if item == _OWNER_REFS:
                resolved.extend(user.ownership_entity_refs)
            else:
                resolved.append(_resolve(item, user))
        return resolved
    return value


class _RuleReader:
    def __init__(self, index: int, raw: Any) -> None:
        self.index = index
        self.raw = raw
        name = raw.get("permission") if isinstance(raw, dict) else None
        type_ = raw.get("resourceType") if isinstance(raw, dict) else None
        label = name if isinstance(name, str) else type_ if isinstance(type_, str) else None
        self.where = f"permission.policy.rules[{index}]" + (f" ({label})" if label else "")

    def fail(self, message: str) -> InputError:
        return InputError(f"Invalid {self.where}: {message}")

    def optional_string(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(f"'{key}' must be a non-empty string")
        return value

    def read(self) -> _Rule:
        if not isinstance(self.raw, dict):
            raise self.fail("expected an object")
        unknown = sorted(set(self.raw) - _RULE_KEYS)
        if unknown:
            raise self.fail(f"unknown key(s) {', '.join(unknown)}")
        permission = self.optional_string("permission")
        resource_type = self.optional_string("resourceType")
        if permission is None and resource_type is None:
            raise self.fail("it needs 'permission' (a permission name) or 'resourceType'")
        decision = self.raw.get("decision")
        if decision not in ("allow", "deny", "conditional"):
            raise self.fail("'decision' must be allow, deny or conditional")
        members = self._members()
        plugin_id = self.optional_string("pluginId")
        raw_conditions = self.raw.get("conditions")
        if decision != "conditional":
            if raw_conditions is not None or plugin_id is not None:
                raise self.fail("'conditions' and 'pluginId' belong to conditional rules only")
            return _Rule(permission, resource_type, members, decision, None, None, False)
        if resource_type is None:
            raise self.fail(
                "a conditional rule needs 'resourceType': its conditions are rules of that "
                "resource type"
            )
        if raw_conditions is None:
            raise self.fail("a conditional rule needs 'conditions'")
        placeholders: list[str] = []
        conditions = self._criteria(raw_conditions, "conditions", 0, placeholders)
        return _Rule(
            permission,
            resource_type,
            members,
            "conditional",
            plugin_id or resource_type.split("-", 1)[0],
            conditions,
            bool(placeholders),
        )

    def _members(self) -> frozenset[str] | None:
        raw = self.raw.get("members")
        if raw is None:
            return None
        if not isinstance(raw, list) or not raw:
            raise self.fail("'members' must be a non-empty list of user or group refs")
        members: set[str] = set()
        for value in raw:
            match = _MEMBER.match(value) if isinstance(value, str) else None
            if match is None:
                raise self.fail(
                    f"member {value!r} is not a user or group ref (user:default/jane, "
                    "group:default/team)"
                )
            kind, namespace, name = match.groups()
            members.add(f"{kind}:{namespace or 'default'}/{name}".lower())
        return frozenset(members)

    def _criteria(
        self, raw: Any, path: str, depth: int, placeholders: list[str]
    ) -> PermissionCriteria[_Leaf]:
        if depth > _MAX_DEPTH:
            raise self.fail(f"{path} nests more than {_MAX_DEPTH} levels")
        if not isinstance(raw, dict):
            raise self.fail(f"{path} must be an object")
        for key, combinator in (("allOf", AllOf), ("anyOf", AnyOf)):
            if key in raw:
                items = raw[key]
                if len(raw) != 1 or not isinstance(items, list) or not items:
                    raise self.fail(f"{path}.{key} must be a non-empty list and alone")
                return combinator(
                    tuple(
                        self._criteria(item, f"{path}.{key}[{i}]", depth + 1, placeholders)
                        for i, item in enumerate(items)
                    )
                )
        if "not" in raw:
            if len(raw) != 1:
                raise self.fail(f"{path}.not must be alone")
            return Not(self._criteria(raw["not"], f"{path}.not", depth + 1, placeholders))
        if set(raw) - {"rule", "params"}:
            extra = ", ".join(sorted(set(raw) - {"rule", "params"}))
            raise self.fail(f"{path} has unknown key(s) {extra} (a condition has rule, params)")
        rule = raw.get("rule")
        if not isinstance(rule, str) or not rule:
            raise self.fail(f"{path}.rule must be a rule name")
        params = raw.get("params", {})
        if not isinstance(params, dict):
            raise self.fail(f"{path}.params must be an object")
        self._check_placeholders(params, f"{path}.params", placeholders)
        return _Leaf(rule, params)

    def _check_placeholders(self, value: Any, path: str, found: list[str]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self._check_placeholders(item, f"{path}.{key}", found)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self._check_placeholders(item, f"{path}[{i}]", found)
        elif isinstance(value, str) and _PLACEHOLDER.match(value):
            if value not in (_CURRENT_USER, _OWNER_REFS):
                raise self.fail(
                    f"{path}: unknown placeholder {value} (use $currentUser or $ownerRefs)"
                )
            found.append(value)


def read_config_policy(raw: Any) -> ConfigPolicy:
    """The policy of a `permission.policy` value; InputError naming the rule (its index
    and permission) when malformed.

    Args:
        raw: the value of `permission.policy`.
    """
    if not isinstance(raw, dict):
        raise InputError("Invalid permission.policy: expected an object with default and rules")
    unknown = sorted(set(raw) - {"default", "rules"})
    if unknown:
        raise InputError(f"Invalid permission.policy: unknown key(s) {', '.join(unknown)}")
    default = raw.get("default", "deny")
    if default not in ("allow", "deny"):
        raise InputError("Invalid permission.policy.default: must be allow or deny")
    rules = raw.get("rules", [])
    if not isinstance(rules, list):
        raise InputError("Invalid permission.policy.rules: expected a list")
    parsed = [_RuleReader(index, rule).read() for index, rule in enumerate(rules)]
    return ConfigPolicy(_ALLOW if default == "allow" else _DENY, parsed)
