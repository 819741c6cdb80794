"""core.permissionsRegistry: registration rules, metadata, and applying conditions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from backstage_backend_defaults.permissions import (
    DefaultPermissionsRegistryService,
    UnknownRuleError,
)
from backstage_backend_plugin_api import PermissionResourceRef
from backstage_common.errors import InputError, NotImplementedError
from backstage_plugin_permission_common import (
    AnyOf,
    ApplyConditionsRequestItem,
    AuthorizeResult,
    Not,
    PermissionCondition,
    create_permission,
)


class Rule:
    """A minimal PermissionRule (the registry needs only the protocol)."""

    def __init__(self, name: str, resource_type: str = "things-item") -> None:
        self.name = name
        self.description = name.lower()
        self.resource_type = resource_type
        self.params_schema: dict[str, Any] = {"type": "object"}

    def validate_params(self, params: Any) -> Any:
        if params.get("bad"):
            raise InputError("Parameters to rule are invalid")
        return params

    def apply(self, resource: Any, params: Any) -> bool:
        return bool(resource["color"] == params.get("color", "red"))

    def to_query(self, params: Any) -> Any:
        return params


REF: PermissionResourceRef[Any, Any] = PermissionResourceRef("things", "things-item")
READ = create_permission("things.item.read", action="read", resource_type="things-item")
CREATE = create_permission("things.item.create", action="create")
THINGS = {"a": {"color": "red"}, "b": {"color": "blue"}}
calls: list[list[str]] = []


async def get_things(refs: Sequence[str]) -> list[Any]:
    calls.append(list(refs))
    return [THINGS.get(ref) for ref in refs]


def registry(get_resources: Any = get_things) -> DefaultPermissionsRegistryService:
    service = DefaultPermissionsRegistryService("things")
    service.add_resource_type(
        resource_ref=REF, rules=[Rule("HAS_COLOR")], permissions=[READ], get_resources=get_resources
    )
    service.add_permissions([CREATE, READ])
    return service


def test_registration_rules() -> None:
    service = registry()
    with pytest.raises(InputError, match="already registered"):
        service.add_resource_type(resource_ref=REF, rules=[])
    with pytest.raises(InputError, match="belongs to plugin 'other'"):
        service.add_resource_type(resource_ref=PermissionResourceRef("other", "x"), rules=[])
    with pytest.raises(InputError, match="a rule of that name already exists"):
        service.add_permission_rules([Rule("HAS_COLOR")])
    with pytest.raises(InputError, match="the resource type is not registered"):
        service.add_permission_rules([Rule("X", "nope")])
    with pytest.raises(InputError, match="is for resource type 'nope'"):
        service.add_resource_type(
            resource_ref=PermissionResourceRef("things", "y"), rules=[Rule("Z", "nope")]
        )
    service.add_permission_rules([Rule("IS_BIG")])
    ruleset = service.get_permission_ruleset(REF)
    assert [rule.name for rule in ruleset.get_rules()] == ["HAS_COLOR", "IS_BIG"]
    with pytest.raises(UnknownRuleError, match="'NOPE' does not exist"):
        ruleset.get_rule_by_name("NOPE")
    service.close_registration()
    with pytest.raises(InputError, match="after the backend has started"):
        service.add_permissions([CREATE])


def test_metadata_lists_permissions_once_and_rules() -> None:
    metadata = registry().metadata()
    assert [p["name"] for p in metadata["permissions"]] == [
        "things.item.create",
        "things.item.read",
    ]
    assert metadata["rules"] == [
        {
            "name": "HAS_COLOR",
            "description": "has_color",
            "resourceType": "things-item",
            "paramsSchema": {"type": "object"},
        }
    ]


def item(
    conditions: Any, ref: Any, item_id: str = "i", resource_type: str = "things-item"
) -> ApplyConditionsRequestItem:
    return ApplyConditionsRequestItem(item_id, ref, resource_type, conditions)


RED = PermissionCondition("HAS_COLOR", "things-item", {"color": "red"})


async def test_apply_conditions_loads_each_resource_once() -> None:
    calls.clear()
    results = await registry().apply_conditions(
        [
            item(RED, "a", "1"),
            item(Not(RED), ("a", "b", "missing"), "2"),
            item(AnyOf((RED,)), "b", "3"),
        ]
    )
    assert [(r.id, r.result) for r in results] == [
        ("1", AuthorizeResult.ALLOW),
        ("2", (AuthorizeResult.DENY, AuthorizeResult.ALLOW, AuthorizeResult.DENY)),
        ("3", AuthorizeResult.DENY),
    ]
    assert calls == [["a", "b", "missing"]]


async def test_apply_conditions_refusals() -> None:
    service = registry()
    with pytest.raises(InputError, match="Unexpected resource types: gadgets, widgets"):
        await service.apply_conditions(
            [item(RED, "a", resource_type="widgets"), item(RED, "a", resource_type="gadgets")]
        )
    calls.clear()
    bad = PermissionCondition("HAS_COLOR", "things-item", {"bad": True})
    with pytest.raises(InputError, match="Parameters to rule are invalid"):
        await service.apply_conditions([item(RED, "a", "1"), item(bad, "b", "2")])
    assert calls == []  # checked before anything is loaded
    with pytest.raises(UnknownRuleError):
        await service.apply_conditions([item(PermissionCondition("NOPE", "things-item"), "a")])
    with pytest.raises(InputError, match="is for resource type 'other'"):
        await service.apply_conditions([item(PermissionCondition("HAS_COLOR", "other"), "a")])
    without_loader = registry(get_resources=None)
    with pytest.raises(
        NotImplementedError, match="can't evaluate the conditions request for things-item"
    ):
        await without_loader.apply_conditions([item(RED, "a")])
