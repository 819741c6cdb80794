"""backstage_plugin_permission_node: what plugins and policy modules use of the permission
framework, as `@backstage/plugin-permission-node`.

- Policies: `PermissionPolicy` (`handle(request, user)`), set by a module of the permission
  plugin through `policy_extension_point`.
- Rules: `create_permission_rule` (parameters as JSON Schema), `create_permission_resource_ref`,
  registered with `core.permissionsRegistry`.
- Conditions: `create_condition_transformer` (criteria to the plugin's query type),
  `create_condition_authorizer` (decide a loaded resource), and for policy authors
  `create_condition_factory`, `create_conditional_decision`, `create_condition_exports`.
"""

from typing import Annotated, TypeAlias

from backstage_backend_plugin_api import PermissionResourceRef, PermissionRule, PermissionRuleset

from backstage_plugin_permission_node._conditions import (
    ConditionExports,
    UnknownPermissionRuleError,
    create_condition_authorizer,
    create_condition_exports,
    create_condition_transformer,
    create_conditional_decision,
)
from backstage_plugin_permission_node._policy import (
    PermissionPolicy,
    PolicyExtensionPoint,
    PolicyQuery,
    PolicyQueryUser,
    policy_extension_point,
)
from backstage_plugin_permission_node._rules import (
    DRAFT_07,
    ConcretePermissionRule,
    create_condition_factory,
    create_permission_resource_ref,
    create_permission_rule,
)

__all__ = [
    "DRAFT_07",
    "ConcretePermissionRule",
    "ConditionExports",
    "PermissionPolicy",
    "PermissionResourceRef",
    "PermissionRule",
    "PermissionRuleset",
    "PolicyExtension",
    "PolicyExtensionPoint",
    "PolicyQuery",
    "PolicyQueryUser",
    "UnknownPermissionRuleError",
    "create_condition_authorizer",
    "create_condition_exports",
    "create_condition_factory",
    "create_condition_transformer",
    "create_conditional_decision",
    "create_permission_resource_ref",
    "create_permission_rule",
    "policy_extension_point",
]

PolicyExtension: TypeAlias = Annotated[PolicyExtensionPoint, policy_extension_point]
"""Injects the permission plugin's policy extension point into a module's init."""
