"""core.permissionsRegistry: a plugin's permissions, resource types and rules, and the
conditions applied to its resources (`apply-conditions`), as Backstage's permission
integration router keeps them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from backstage_backend_plugin_api import PermissionResourceRef, PermissionRule
from backstage_common.errors import InputError, NotImplementedError
from backstage_plugin_permission_common import (
    ApplyConditionsRequestItem,
    ApplyConditionsResponseItem,
    AuthorizeResult,
    Permission,
    PermissionCondition,
    PermissionCriteria,
    evaluate_criteria,
    map_criteria,
    permission_to_json,
)

__all__ = ["DefaultPermissionsRegistryService", "UnknownRuleError"]

TResource = TypeVar("TResource")
TQuery = TypeVar("TQuery")

GetResourcesFn = Callable[[Sequence[str]], Awaitable[Sequence[Any | None]]]


class UnknownRuleError(Exception):
    """Conditions name a rule the resource type does not have: the policy's mistake, not
    the caller's, so a 500 as in Backstage."""


@dataclass
class _ResourceType:
    plugin_id: str
    rules: dict[str, PermissionRule[Any, Any]] = field(default_factory=dict)
    get_resources: GetResourcesFn | None = None


class _Ruleset:
    """The rules of one resource type (a `PermissionRuleset`)."""

    def __init__(self, resource_type: str, rules: Mapping[str, PermissionRule[Any, Any]]) -> None:
        self._resource_type = resource_type
        self._rules = rules

    def get_rules(self) -> Sequence[PermissionRule[Any, Any]]:
        return list(self._rules.values())

    def get_rule_by_name(self, name: str) -> PermissionRule[Any, Any]:
        rule = self._rules.get(name)
        if rule is None:
            raise UnknownRuleError(
                f"Permission rule '{name}' does not exist for resource type '{self._resource_type}'"
            )
        return rule


class DefaultPermissionsRegistryService:
    """`core.permissionsRegistry` of one plugin; closed for registration once the backend
    has started."""

    def __init__(self, plugin_id: str) -> None:
        self._plugin_id = plugin_id
        self._permissions: dict[str, Permission] = {}
        self._resource_types: dict[str, _ResourceType] = {}
        self._closed = False

    def close_registration(self) -> None:
        """Refuse further registrations (the backend has started)."""
        self._closed = True

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise InputError(
                f"Cannot {what} in plugin '{self._plugin_id}' after the backend has started"
            )

    def add_permissions(self, permissions: Sequence[Permission]) -> None:
        self._check_open("add permissions")
        for permission in permissions:
            # same name: the last wins, as Backstage's metadata does
            self._permissions.pop(permission.name, None)
            self._permissions[permission.name] = permission

    def add_permission_rules(self, rules: Sequence[PermissionRule[Any, Any]]) -> None:
        self._check_open("add permission rules")
        for rule in rules:
            resource_type = self._resource_types.get(rule.resource_type)
            if resource_type is None:
                raise InputError(
                    f"Cannot add permission rule '{rule.name}' for resource type "
                    f"'{rule.resource_type}': the resource type is not registered in plugin "
                    f"'{self._plugin_id}'; add it with add_resource_type first"
                )
            self._add_rule(resource_type, rule)

    @staticmethod
    def _add_rule(resource_type: _ResourceType, rule: PermissionRule[Any, Any]) -> None:
        if rule.name in resource_type.rules:
            raise InputError(
                f"Refused to add permission rule '{rule.name}' for resource type "
                f"'{rule.resource_type}': a rule of that name already exists"
            )
        resource_type.rules[rule.name] = rule

    def add_resource_type(
        self,
        *,
        resource_ref: PermissionResourceRef[TResource, TQuery],
        rules: Sequence[PermissionRule[TResource, TQuery]],
        permissions: Sequence[Permission] = (),
        get_resources: Callable[[Sequence[str]], Awaitable[Sequence[TResource | None]]]
        | None = None,
    ) -> None:
        self._check_open("add a resource type")
        if resource_ref.plugin_id != self._plugin_id:
            raise InputError(
                f"Resource type '{resource_ref.resource_type}' belongs to plugin "
                f"'{resource_ref.plugin_id}', it cannot be added in plugin '{self._plugin_id}'"
            )
        if resource_ref.resource_type in self._resource_types:
            raise InputError(
                f"Resource type '{resource_ref.resource_type}' is already registered in "
                f"plugin '{self._plugin_id}'"
            )
        entry = _ResourceType(resource_ref.plugin_id, get_resources=get_resources)
        self._resource_types[resource_ref.resource_type] = entry
        for rule in rules:
            if rule.resource_type != resource_ref.resource_type:
                raise InputError(
                    f"Permission rule '{rule.name}' is for resource type "
                    f"'{rule.resource_type}', not '{resource_ref.resource_type}'"
                )
            self._add_rule(entry, rule)
        self.add_permissions(permissions)

    def get_permission_ruleset(
        self, resource_ref: PermissionResourceRef[TResource, TQuery]
    ) -> _Ruleset:
        entry = self._resource_types.get(resource_ref.resource_type)
        if entry is None:
            raise InputError(
                f"Resource type '{resource_ref.resource_type}' is not registered in plugin "
                f"'{self._plugin_id}'"
            )
        return _Ruleset(resource_ref.resource_type, entry.rules)

    @property
    def has_registrations(self) -> bool:
        """Whether the plugin registered anything (else it serves no metadata routes)."""
        return bool(self._permissions or self._resource_types)

    def metadata(self) -> dict[str, Any]:
        """`{"permissions": [...], "rules": [...]}`, as Backstage's metadata route answers."""
        rules = [
            {
                "name": rule.name,
                "description": rule.description,
                "resourceType": rule.resource_type,
                "paramsSchema": dict(rule.params_schema),
            }
            for entry in self._resource_types.values()
            for rule in entry.rules.values()
        ]
        permissions = [permission_to_json(p) for p in self._permissions.values()]
        return {"permissions": permissions, "rules": rules}

    async def apply_conditions(
        self, items: Sequence[ApplyConditionsRequestItem]
    ) -> list[ApplyConditionsResponseItem]:
        """ALLOW or DENY for each item's resource(s); a missing resource is DENY.

        Every condition's parameters are checked before any resource is loaded, so one bad
        item fails the whole batch (400), as in Backstage. Resources are loaded once per
        resource type, for the unique refs of all items.
        """
        types = {item.resource_type for item in items}
        unknown = sorted(types - set(self._resource_types))
        if unknown:
            raise InputError(f"Unexpected resource types: {', '.join(unknown)}")
        for resource_type in sorted(types):
            if self._resource_types[resource_type].get_resources is None:
                raise NotImplementedError(
                    "This plugin does not expose any permission rule or can't evaluate the "
                    f"conditions request for {resource_type}"
                )
        checked = [(item, self._checked_conditions(item)) for item in items]
        resources = await self._load_resources(items)
        results: list[ApplyConditionsResponseItem] = []
        for item, conditions in checked:
            loaded = resources[item.resource_type]
            rules = self._resource_types[item.resource_type].rules
            if isinstance(item.resource_ref, str):
                result: AuthorizeResult | tuple[AuthorizeResult, ...] = _decide(
                    conditions, rules, loaded.get(item.resource_ref)
                )
            else:
                result = tuple(
                    _decide(conditions, rules, loaded.get(ref)) for ref in item.resource_ref
                )
            results.append(ApplyConditionsResponseItem(item.id, result))
        return results

    def _checked_conditions(self, item: ApplyConditionsRequestItem) -> PermissionCriteria[_Checked]:
        ruleset = self.get_permission_ruleset(
            PermissionResourceRef[Any, Any](self._plugin_id, item.resource_type)
        )

        def check(condition: PermissionCondition) -> _Checked:
            if condition.resource_type != item.resource_type:
                raise InputError(
                    f"Condition on rule '{condition.rule}' is for resource type "
                    f"'{condition.resource_type}', not '{item.resource_type}'"
                )
            rule = ruleset.get_rule_by_name(condition.rule)
            return _Checked(rule.name, rule.validate_params(condition.params))

        return map_criteria(item.conditions, check)

    async def _load_resources(
        self, items: Sequence[ApplyConditionsRequestItem]
    ) -> dict[str, dict[str, Any]]:
        refs_by_type: dict[str, dict[str, None]] = {}
        for item in items:
            unique = refs_by_type.setdefault(item.resource_type, {})
            refs = (item.resource_ref,) if isinstance(item.resource_ref, str) else item.resource_ref
            unique.update(dict.fromkeys(refs))
        loaded: dict[str, dict[str, Any]] = {}
        for resource_type, unique in refs_by_type.items():
            get_resources = self._resource_types[resource_type].get_resources
            assert get_resources is not None  # checked before
            wanted = list(unique)
            found = await get_resources(wanted)
            if len(found) != len(wanted):
                raise RuntimeError(
                    f"get_resources for '{resource_type}' returned {len(found)} results "
                    f"for {len(wanted)} refs"
                )
            loaded[resource_type] = dict(zip(wanted, found, strict=True))
        return loaded


@dataclass(frozen=True)
class _Checked:
    rule: str
    params: Mapping[str, Any]


def _decide(
    conditions: PermissionCriteria[_Checked],
    rules: Mapping[str, PermissionRule[Any, Any]],
    resource: Any | None,
) -> AuthorizeResult:
    if resource is None:  # a missing resource is denied
        return AuthorizeResult.DENY

    def leaf(checked: _Checked) -> bool:
        return rules[checked.rule].apply(resource, checked.params)

    return AuthorizeResult.ALLOW if evaluate_criteria(conditions, leaf) else AuthorizeResult.DENY
