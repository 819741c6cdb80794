"""Backstage's JSON for permissions, criteria, decisions and the request/response bodies:
round trips, and an InputError naming the place of each malformation."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_common.errors import InputError
from backstage_plugin_permission_common import (
    AllOf,
    AnyOf,
    ApplyConditionsResponseItem,
    AuthorizeRequestItem,
    AuthorizeResponseItem,
    AuthorizeResult,
    BasicPermission,
    ConditionalPolicyDecision,
    DefinitivePolicyDecision,
    Not,
    PermissionCondition,
    ResourcePermission,
    apply_conditions_request_from_json,
    apply_conditions_request_to_json,
    apply_conditions_response_from_json,
    apply_conditions_response_to_json,
    authorize_request_from_json,
    authorize_request_to_json,
    authorize_response_from_json,
    authorize_response_to_json,
    create_permission,
    criteria_from_json,
    criteria_to_json,
    decision_from_json,
    decision_to_json,
    evaluate_criteria,
    is_resource_permission,
    map_criteria,
    permission_from_json,
    permission_to_json,
)

READ_JSON = {
    "type": "resource",
    "name": "catalog.entity.read",
    "attributes": {"action": "read"},
    "resourceType": "catalog-entity",
}
OWNER = PermissionCondition("IS_ENTITY_OWNER", "catalog-entity", {"claims": ["user:default/a"]})
KIND = PermissionCondition("IS_ENTITY_KIND", "catalog-entity", {"kinds": ["api"]})


def test_permissions_as_backstage_writes_them() -> None:
    read = create_permission("catalog.entity.read", action="read", resource_type="catalog-entity")
    validate = create_permission("catalog.entity.validate")
    assert isinstance(read, ResourcePermission)
    assert isinstance(validate, BasicPermission)
    assert permission_to_json(read) == READ_JSON
    assert permission_to_json(validate) == {
        "type": "basic",
        "name": "catalog.entity.validate",
        "attributes": {},
    }
    assert permission_from_json(READ_JSON) == read
    assert permission_from_json({**READ_JSON, "extra": 1}) == read  # unknown keys stripped
    assert is_resource_permission(read, "catalog-entity")
    assert not is_resource_permission(read, "other")
    assert not is_resource_permission(validate)
    with pytest.raises(ValueError, match="Invalid permission action"):
        create_permission("x", action="fly")  # type: ignore[call-overload]


def test_criteria_round_trip_and_classification_order() -> None:
    criteria = AllOf((OWNER, AnyOf((KIND, Not(OWNER)))))
    data = criteria_to_json(criteria)
    assert data == {
        "allOf": [
            {
                "rule": "IS_ENTITY_OWNER",
                "resourceType": "catalog-entity",
                "params": {"claims": ["user:default/a"]},
            },
            {
                "anyOf": [
                    {
                        "rule": "IS_ENTITY_KIND",
                        "resourceType": "catalog-entity",
                        "params": {"kinds": ["api"]},
                    },
                    {
                        "not": {
                            "rule": "IS_ENTITY_OWNER",
                            "resourceType": "catalog-entity",
                            "params": {"claims": ["user:default/a"]},
                        }
                    },
                ]
            },
        ]
    }
    assert criteria_from_json(data) == criteria
    # a node is classified by its key in the order allOf, anyOf, not, else a leaf
    both = {"anyOf": [data["allOf"][0]], "allOf": [data["allOf"][0]], "rule": "X"}
    assert isinstance(criteria_from_json(both), AllOf)
    leaf = criteria_from_json({"rule": "R", "resourceType": "t"})
    assert leaf == PermissionCondition("R", "t", {})
    assert criteria_to_json(leaf) == {"rule": "R", "resourceType": "t"}


def test_map_and_evaluate_criteria() -> None:
    criteria = AllOf((OWNER, AnyOf((KIND, Not(OWNER)))))
    names = map_criteria(criteria, lambda leaf: leaf.rule)
    assert names == AllOf(("IS_ENTITY_OWNER", AnyOf(("IS_ENTITY_KIND", Not("IS_ENTITY_OWNER")))))
    assert evaluate_criteria(criteria, lambda leaf: True)
    # the owner rule holds, the kind rule fails, so the anyOf's not(owner) fails too
    assert not evaluate_criteria(criteria, lambda leaf: leaf is OWNER)
    assert not evaluate_criteria(criteria, lambda leaf: leaf is KIND)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "Invalid conditions: expected an object"),
        ({"allOf": []}, "Invalid conditions.allOf: expected a non-empty array"),
        ({"anyOf": {}}, "Invalid conditions.anyOf: expected a non-empty array"),
        ({"not": {"allOf": [{"rule": 1}]}}, "Invalid conditions.not.allOf[0].rule"),
        ({"rule": "R"}, "Invalid conditions.resourceType"),
        ({"rule": "R", "resourceType": "t", "params": [1]}, "Invalid conditions.params"),
    ],
)
def test_malformed_criteria(data: Any, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        criteria_from_json(data)


def test_deeply_nested_criteria_are_refused() -> None:
    data: Any = {"rule": "R", "resourceType": "t"}
    for _ in range(100):
        data = {"not": data}
    with pytest.raises(InputError, match="nested more than"):
        criteria_from_json(data)


def test_decisions() -> None:
    conditional = ConditionalPolicyDecision("catalog", "catalog-entity", OWNER)
    data = decision_to_json(conditional)
    assert data == {
        "result": "CONDITIONAL",
        "pluginId": "catalog",
        "resourceType": "catalog-entity",
        "conditions": criteria_to_json(OWNER),
    }
    assert decision_from_json(data) == conditional
    assert decision_from_json({"result": "DENY"}) == DefinitivePolicyDecision(AuthorizeResult.DENY)
    assert DefinitivePolicyDecision(AuthorizeResult.ALLOW).allowed
    with pytest.raises(ValueError, match="ALLOW or DENY"):
        DefinitivePolicyDecision(AuthorizeResult.CONDITIONAL)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="result"):
        decision_from_json({"result": "MAYBE"})
    with pytest.raises(InputError, match="pluginId"):
        decision_from_json({"result": "CONDITIONAL", "resourceType": "t", "conditions": {}})


def test_authorize_bodies() -> None:
    items = [
        AuthorizeRequestItem("1", permission_from_json(READ_JSON), "component:default/a"),
        AuthorizeRequestItem("2", permission_from_json(READ_JSON), ("a", "b")),
        AuthorizeRequestItem("3", permission_from_json(READ_JSON)),
    ]
    body = authorize_request_to_json(items)
    assert body["items"][1] == {"id": "2", "permission": READ_JSON, "resourceRef": ["a", "b"]}
    assert "resourceRef" not in body["items"][2]
    assert authorize_request_from_json(body) == items
    response = [
        AuthorizeResponseItem("1", DefinitivePolicyDecision(AuthorizeResult.ALLOW)),
        AuthorizeResponseItem("2", (AuthorizeResult.ALLOW, AuthorizeResult.DENY)),
        AuthorizeResponseItem("3", ConditionalPolicyDecision("catalog", "catalog-entity", KIND)),
    ]
    out = authorize_response_to_json(response)
    assert out["items"][:2] == [
        {"id": "1", "result": "ALLOW"},
        {"id": "2", "result": ["ALLOW", "DENY"]},
    ]
    parsed = authorize_response_from_json(out, ids=["1", "2", "3"])
    assert parsed == {item.id: item.decision for item in response}
    with pytest.raises(InputError, match="ids do not match"):
        authorize_response_from_json(out, ids=["1", "2"])
    with pytest.raises(InputError, match="ids do not match"):
        authorize_response_from_json(out, ids=["1", "2", "3", "4"])


def test_apply_conditions_bodies() -> None:
    decision = ConditionalPolicyDecision("catalog", "catalog-entity", KIND)
    body = apply_conditions_request_to_json([("i", ("a", "b"), decision)])
    # the decision is spread into the item, as Backstage's permission backend sends it
    assert body["items"][0]["result"] == "CONDITIONAL"
    assert body["items"][0]["pluginId"] == "catalog"
    (item,) = apply_conditions_request_from_json(body)
    assert (item.id, item.resource_ref, item.resource_type, item.conditions) == (
        "i",
        ("a", "b"),
        "catalog-entity",
        KIND,
    )
    results = [
        ApplyConditionsResponseItem("i", (AuthorizeResult.ALLOW, AuthorizeResult.DENY)),
        ApplyConditionsResponseItem("j", AuthorizeResult.DENY),
    ]
    out = apply_conditions_response_to_json(results)
    assert out == {
        "items": [{"id": "i", "result": ["ALLOW", "DENY"]}, {"id": "j", "result": "DENY"}]
    }
    assert apply_conditions_response_from_json(out) == {r.id: r.result for r in results}
    with pytest.raises(InputError, match=r"items\[0\].result"):
        apply_conditions_response_from_json({"items": [{"id": "i", "result": "CONDITIONAL"}]})
    with pytest.raises(InputError, match=r"items\[0\].resourceRef"):
        apply_conditions_request_from_json({"items": [{**body["items"][0], "resourceRef": []}]})


def test_item_ids_must_be_unique() -> None:
    item = {"id": "same", "permission": READ_JSON, "resourceRef": "a"}
    with pytest.raises(InputError, match=r"items\[1\].id: 'same' is used by another item"):
        authorize_request_from_json({"items": [item, item]})
    decision = ConditionalPolicyDecision("catalog", "catalog-entity", KIND)
    body = apply_conditions_request_to_json([("i", "a", decision), ("i", "b", decision)])
    with pytest.raises(InputError, match="is used by another item"):
        apply_conditions_request_from_json(body)
