"""Helpers for conditional decisions: turning conditions into a plugin's query, applying
them to a loaded resource, and making conditional decisions in policies."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from backstage_backend_plugin_api import PermissionRule, PermissionRuleset
from backstage_plugin_permission_common import (
    ConditionalPolicyDecision,
    PermissionCondition,
    PermissionCriteria,
    PolicyDecision,
    ResourcePermission,
    evaluate_criteria,
    map_criteria,
)

from backstage_plugin_permission_node._rules import create_condition_factory

__all__ = [
    "ConditionExports",
    "UnknownPermissionRuleError",
    "create_condition_authorizer",
    "create_condition_exports",
    "create_condition_transformer",
    "create_conditional_decision",
]

TResource = TypeVar("TResource")
TQuery = TypeVar("TQuery")


class UnknownPermissionRuleError(Exception):
    """A condition names a rule its resource type does not have: a policy mistake, not the
    caller's (answered 500, as Backstage does)."""


def _rule_lookup(
    rules: Sequence[PermissionRule[Any, Any]] | PermissionRuleset[Any, Any],
) -> Callable[[PermissionCondition], PermissionRule[Any, Any]]:
    listed = list(rules) if isinstance(rules, Sequence) else list(rules.get_rules())
    by_key = {(rule.resource_type, rule.name): rule for rule in listed}
    by_name = {rule.name: rule for rule in listed}

    def lookup(condition: PermissionCondition) -> PermissionRule[Any, Any]:
        rule = by_key.get((condition.resource_type, condition.rule))
        if rule is None and condition.rule in by_name:
            rule = by_name[condition.rule]
            if rule.resource_type != condition.resource_type:
                rule = None
        if rule is None:
            raise UnknownPermissionRuleError(
                f"Permission rule '{condition.rule}' does not exist for resource type "
                f"'{condition.resource_type}'"
            )
        return rule

    return lookup


def create_condition_transformer(
    rules: Sequence[PermissionRule[Any, TQuery]] | PermissionRuleset[Any, TQuery],
) -> Callable[[PermissionCriteria[PermissionCondition]], PermissionCriteria[TQuery]]:
    """A function turning conditions into the plugin's query type: each leaf becomes its
    rule's `to_query(params)` (parameters validated first, InputError when invalid) and
    `AllOf`/`AnyOf`/`Not` are kept.

    Args:
        rules: the resource type's rules (or its ruleset from `core.permissionsRegistry`).
    """
    lookup = _rule_lookup(rules)

    def leaf(condition: PermissionCondition) -> TQuery:
        rule = lookup(condition)
        result: TQuery = rule.to_query(rule.validate_params(condition.params))
        return result

    def transform(criteria: PermissionCriteria[PermissionCondition]) -> PermissionCriteria[TQuery]:
        return map_criteria(criteria, leaf)

    return transform


def create_condition_authorizer(
    rules: Sequence[PermissionRule[TResource, Any]] | PermissionRuleset[TResource, Any],
) -> Callable[[PolicyDecision, TResource], bool]:
    """A function deciding one loaded resource: a conditional decision applies its criteria
    (`rule.apply`), any other is whether it is ALLOW.

    Args:
        rules: the resource type's rules (or its ruleset).
    """
    lookup = _rule_lookup(rules)

    def authorize(decision: PolicyDecision, resource: TResource) -> bool:
        if not isinstance(decision, ConditionalPolicyDecision):
            return decision.allowed

        def leaf(condition: PermissionCondition) -> bool:
            rule = lookup(condition)
            return rule.apply(resource, rule.validate_params(condition.params))

        return evaluate_criteria(decision.conditions, leaf)

    return authorize


def create_conditional_decision(
    permission: ResourcePermission,
    conditions: PermissionCriteria[PermissionCondition],
    *,
    plugin_id: str,
) -> ConditionalPolicyDecision:
    """A conditional decision on a resource permission, for policies.

    Args:
        permission: the resource permission decided.
        conditions: the criteria the plugin applies.
        plugin_id: the plugin owning the permission's resource type.
    """
    return ConditionalPolicyDecision(plugin_id, permission.resource_type, conditions)


@dataclass(frozen=True)
class ConditionExports(Generic[TResource]):
    """What a plugin exports for policy authors, as Backstage's `createConditionExports`.

    Args:
        plugin_id: the plugin owning the resource type.
        resource_type: the resource type.
        conditions: a condition factory per rule name.
    """

    plugin_id: str
    resource_type: str
    conditions: Mapping[str, Callable[..., PermissionCondition]]

    def create_conditional_decision(
        self,
        permission: ResourcePermission,
        conditions: PermissionCriteria[PermissionCondition],
    ) -> ConditionalPolicyDecision:
        """A conditional decision on this resource type.

        Args:
            permission: the resource permission decided (of this resource type).
            conditions: the criteria.
        """
        if permission.resource_type != self.resource_type:
            raise ValueError(
                f"Permission '{permission.name}' is not about resource type '{self.resource_type}'"
            )
        return create_conditional_decision(permission, conditions, plugin_id=self.plugin_id)


def create_condition_exports(
    *, plugin_id: str, resource_type: str, rules: Sequence[PermissionRule[TResource, Any]]
) -> ConditionExports[TResource]:
    """Condition factories for every rule and a decision helper bound to the plugin.

    Args:
        plugin_id: the plugin owning the resource type.
        resource_type: the resource type.
        rules: its rules.
    """
    return ConditionExports(
        plugin_id, resource_type, {rule.name: create_condition_factory(rule) for rule in rules}
    )
