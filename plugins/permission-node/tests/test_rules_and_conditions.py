"""Rules with JSON Schema parameters, condition transformers and authorizers, condition
exports for policy authors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from backstage_common.errors import InputError
from backstage_plugin_permission_common import (
    AllOf,
    AnyOf,
    AuthorizeResult,
    ConditionalPolicyDecision,
    DefinitivePolicyDecision,
    Not,
    PermissionCondition,
    create_permission,
)
from backstage_plugin_permission_node import (
    DRAFT_07,
    UnknownPermissionRuleError,
    create_condition_authorizer,
    create_condition_exports,
    create_condition_factory,
    create_condition_transformer,
    create_conditional_decision,
    create_permission_resource_ref,
    create_permission_rule,
)

ref = create_permission_resource_ref(plugin_id="things", resource_type="things-item")
read = create_permission("things.item.read", action="read", resource_type="things-item")


def size_query(params: Mapping[str, Any]) -> str:
    return f"size>={params['min']}"


at_least = create_permission_rule(
    name="AT_LEAST",
    description="size at least min",
    resource_ref=ref,
    params_schema={
        "type": "object",
        "properties": {"min": {"type": "integer", "minimum": 0}},
        "required": ["min"],
        "additionalProperties": False,
    },
    apply=lambda thing, params: thing["size"] >= params["min"],
    to_query=size_query,
)
is_red = create_permission_rule(
    name="IS_RED",
    description="red things",
    resource_type="things-item",
    apply=lambda thing, params: thing["color"] == "red",
    to_query=lambda params: "color=red",
)


def test_rule_schemas_are_draft_07_objects() -> None:
    assert at_least.params_schema["$schema"] == DRAFT_07
    assert is_red.params_schema == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
        "$schema": DRAFT_07,
    }
    with pytest.raises(ValueError, match="Invalid params_schema of permission rule 'BAD'"):
        create_permission_rule(
            name="BAD",
            description="",
            resource_ref=ref,
            params_schema={"type": "nonsense"},
            apply=lambda t, p: True,
            to_query=lambda p: "",
        )
    with pytest.raises(ValueError, match="needs a resource_ref or resource_type"):
        create_permission_rule(
            name="X", description="", apply=lambda t, p: True, to_query=lambda p: ""
        )


@pytest.mark.parametrize("params", [{}, {"min": "3"}, {"min": -1}, {"min": 1, "max": 2}])
def test_invalid_params_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="Parameters to rule are invalid"):
        at_least.validate_params(params)
    with pytest.raises(InputError, match="Parameters to rule are invalid"):
        is_red.validate_params({"extra": 1})


def test_the_transformer_keeps_the_combinators_and_maps_leaves() -> None:
    transform = create_condition_transformer([at_least, is_red])
    criteria = AllOf(
        (
            PermissionCondition("AT_LEAST", "things-item", {"min": 3}),
            AnyOf((Not(PermissionCondition("IS_RED", "things-item")),)),
        )
    )
    assert transform(criteria) == AllOf(("size>=3", AnyOf((Not("color=red"),))))
    with pytest.raises(InputError, match="Parameters to rule are invalid"):
        transform(PermissionCondition("AT_LEAST", "things-item", {"min": "x"}))
    with pytest.raises(UnknownPermissionRuleError, match="'NOPE' does not exist"):
        transform(PermissionCondition("NOPE", "things-item"))
    with pytest.raises(UnknownPermissionRuleError, match="for resource type 'other'"):
        transform(PermissionCondition("IS_RED", "other"))


def test_the_authorizer_decides_loaded_resources() -> None:
    authorize = create_condition_authorizer([at_least, is_red])
    decision = ConditionalPolicyDecision(
        "things",
        "things-item",
        AnyOf(
            (
                PermissionCondition("AT_LEAST", "things-item", {"min": 10}),
                PermissionCondition("IS_RED", "things-item"),
            )
        ),
    )
    assert authorize(decision, {"size": 12, "color": "blue"})
    assert authorize(decision, {"size": 1, "color": "red"})
    assert not authorize(decision, {"size": 1, "color": "blue"})
    assert authorize(DefinitivePolicyDecision(AuthorizeResult.ALLOW), {"size": 0, "color": ""})
    assert not authorize(
        DefinitivePolicyDecision(AuthorizeResult.DENY), {"size": 99, "color": "red"}
    )


def test_condition_exports_for_policy_authors() -> None:
    exports = create_condition_exports(
        plugin_id="things", resource_type="things-item", rules=[at_least, is_red]
    )
    condition = exports.conditions["AT_LEAST"]({"min": 2})
    assert condition == PermissionCondition("AT_LEAST", "things-item", {"min": 2})
    assert create_condition_factory(is_red)() == PermissionCondition("IS_RED", "things-item", {})
    decision = exports.create_conditional_decision(read, Not(condition))
    assert decision == ConditionalPolicyDecision("things", "things-item", Not(condition))
    assert create_conditional_decision(read, condition, plugin_id="things").plugin_id == "things"
    other = create_permission("other.read", action="read", resource_type="other")
    with pytest.raises(ValueError, match="not about resource type 'things-item'"):
        exports.create_conditional_decision(other, condition)
