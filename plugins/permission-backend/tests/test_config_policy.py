"""The config policy (`permission.policy`): first matching rule, members, placeholders,
and a clear start error for each malformation; the policy's selection at start."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_backend_defaults import BackendStartupError
from backstage_backend_plugin_api import ModuleRegistrationPoints, create_backend_module
from backstage_backend_test_utils import start_test_backend
from backstage_common.errors import InputError
from backstage_plugin_permission_backend import (
    AllowAllPolicy,
    permission_module_allow_all_policy,
    permission_plugin,
    read_config_policy,
)
from backstage_plugin_permission_common import (
    AnyOf,
    AuthorizeResult,
    ConditionalPolicyDecision,
    Not,
    PermissionCondition,
    create_permission,
)
from backstage_plugin_permission_node import PolicyExtension, PolicyQuery, PolicyQueryUser

ENTITY_READ = create_permission(
    "catalog.entity.read", action="read", resource_type="catalog-entity"
)
ENTITY_DELETE = create_permission(
    "catalog.entity.delete", action="delete", resource_type="catalog-entity"
)
LOCATION_CREATE = create_permission("catalog.location.create", action="create")

JANE = PolicyQueryUser("user:default/jane", ("user:default/jane", "group:default/platform"))
BOB = PolicyQueryUser("user:default/bob", ("user:default/bob", "group:default/other"))

ISSUE_POLICY: dict[str, Any] = {
    "default": "deny",
    "rules": [
        {
            "permission": "catalog.location.create",
            "members": ["group:default/platform"],
            "decision": "allow",
        },
        {
            "permission": "catalog.entity.read",
            "resourceType": "catalog-entity",
            "decision": "conditional",
            "conditions": {
                "anyOf": [
                    {"rule": "IS_ENTITY_OWNER", "params": {"claims": "$ownerRefs"}},
                    {"rule": "IS_ENTITY_KIND", "params": {"kinds": ["component", "api"]}},
                ]
            },
        },
        {"resourceType": "catalog-entity", "members": ["Group:Platform"], "decision": "allow"},
    ],
}


async def decide(policy: Any, permission: Any, user: PolicyQueryUser | None) -> Any:
    return await policy.handle(PolicyQuery(permission), user)


async def test_the_issues_example_decides_as_documented() -> None:
    policy = read_config_policy(ISSUE_POLICY)
    allowed = await decide(policy, LOCATION_CREATE, JANE)
    assert allowed.result is AuthorizeResult.ALLOW
    assert (await decide(policy, LOCATION_CREATE, BOB)).result is AuthorizeResult.DENY
    read = await decide(policy, ENTITY_READ, JANE)
    assert read == ConditionalPolicyDecision(
        "catalog",
        "catalog-entity",
        AnyOf(
            (
                PermissionCondition(
                    "IS_ENTITY_OWNER",
                    "catalog-entity",
                    {"claims": ["user:default/jane", "group:default/platform"]},
                ),
                PermissionCondition(
                    "IS_ENTITY_KIND", "catalog-entity", {"kinds": ["component", "api"]}
                ),
            )
        ),
    )
    bob_read = await decide(policy, ENTITY_READ, BOB)
    assert isinstance(bob_read, ConditionalPolicyDecision)
    assert isinstance(bob_read.conditions, AnyOf)
    assert bob_read.conditions.criteria[0] == PermissionCondition(
        "IS_ENTITY_OWNER", "catalog-entity", {"claims": ["user:default/bob", "group:default/other"]}
    )
    # the first matching rule wins: the read rule comes before the platform's allow-all,
    # while delete only matches the later rule (members compared case-insensitively,
    # the namespace defaulting to `default`)
    assert isinstance(await decide(policy, ENTITY_READ, JANE), ConditionalPolicyDecision)
    assert (await decide(policy, ENTITY_DELETE, JANE)).result is AuthorizeResult.ALLOW
    assert (await decide(policy, ENTITY_DELETE, BOB)).result is AuthorizeResult.DENY


async def test_placeholders_members_and_callers_that_are_no_user() -> None:
    policy = read_config_policy(
        {
            "default": "allow",
            "rules": [
                {
                    "resourceType": "catalog-entity",
                    "pluginId": "my-catalog",
                    "decision": "conditional",
                    "conditions": {
                        "not": {
                            "rule": "IS_ENTITY_OWNER",
                            "params": {"claims": ["group:default/x", "$ownerRefs", "$currentUser"]},
                        }
                    },
                },
                {
                    "permission": "catalog.location.create",
                    "members": ["user:default/bob"],
                    "decision": "deny",
                },
            ],
        }
    )
    decision = await decide(policy, ENTITY_READ, JANE)
    assert decision == ConditionalPolicyDecision(
        "my-catalog",
        "catalog-entity",
        Not(
            PermissionCondition(
                "IS_ENTITY_OWNER",
                "catalog-entity",
                {
                    "claims": [
                        "group:default/x",
                        "user:default/jane",
                        "group:default/platform",
                        "user:default/jane",
                    ]
                },
            )
        ),
    )
    # no user: placeholders cannot be resolved, so the conditional rule denies
    assert (await decide(policy, ENTITY_READ, None)).result is AuthorizeResult.DENY
    # members never match a caller that is no user; the default decides
    assert (await decide(policy, LOCATION_CREATE, None)).result is AuthorizeResult.ALLOW
    assert (await decide(policy, LOCATION_CREATE, BOB)).result is AuthorizeResult.DENY


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("deny", "Invalid permission.policy: expected an object"),
        ({"default": "maybe"}, "Invalid permission.policy.default: must be allow or deny"),
        ({"rules": {}}, "Invalid permission.policy.rules: expected a list"),
        ({"default": "deny", "rule": []}, "unknown key(s) rule"),
        ({"rules": ["allow"]}, "Invalid permission.policy.rules[0]: expected an object"),
        ({"rules": [{"decision": "allow"}]}, "rules[0]: it needs 'permission'"),
        (
            {"rules": [{"permission": 3, "decision": "allow"}]},
            "rules[0]: 'permission' must be a non-empty string",
        ),
        (
            {"rules": [{"permission": "catalog.entity.read", "decision": "yes"}]},
            "rules[0] (catalog.entity.read): 'decision' must be allow, deny or conditional",
        ),
        (
            {
                "rules": [
                    {"permission": "a", "decision": "allow"},
                    {"permission": "b", "decision": "allow", "member": ["user:default/x"]},
                ]
            },
            "rules[1] (b): unknown key(s) member",
        ),
        (
            {"rules": [{"permission": "x", "decision": "allow", "members": ["jane"]}]},
            "rules[0] (x): member 'jane' is not a user or group ref",
        ),
        (
            {
                "rules": [
                    {"permission": "x", "decision": "allow", "members": ["component:default/x"]}
                ]
            },
            "member 'component:default/x' is not a user or group ref",
        ),
        (
            {"rules": [{"permission": "x", "decision": "allow", "members": []}]},
            "'members' must be a non-empty list",
        ),
        (
            {"rules": [{"permission": "x", "decision": "allow", "conditions": {"rule": "R"}}]},
            "rules[0] (x): 'conditions' and 'pluginId' belong to conditional rules only",
        ),
        (
            {
                "rules": [
                    {
                        "permission": "catalog.entity.read",
                        "decision": "conditional",
                        "conditions": {"rule": "R"},
                    }
                ]
            },
            "rules[0] (catalog.entity.read): a conditional rule needs 'resourceType'",
        ),
        (
            {"rules": [{"resourceType": "catalog-entity", "decision": "conditional"}]},
            "rules[0] (catalog-entity): a conditional rule needs 'conditions'",
        ),
        (
            {
                "rules": [
                    {"resourceType": "t", "decision": "conditional", "conditions": {"anyOf": []}}
                ]
            },
            "conditions.anyOf must be a non-empty list",
        ),
        (
            {
                "rules": [
                    {
                        "resourceType": "t",
                        "decision": "conditional",
                        "conditions": {"allOf": [{"rule": 1}]},
                    }
                ]
            },
            "conditions.allOf[0].rule must be a rule name",
        ),
        (
            {
                "rules": [
                    {
                        "resourceType": "t",
                        "decision": "conditional",
                        "conditions": {"rule": "R", "params": []},
                    }
                ]
            },
            "conditions.params must be an object",
        ),
        (
            {
                "rules": [
                    {
                        "resourceType": "t",
                        "decision": "conditional",
                        "conditions": {"rule": "R", "resourceType": "t"},
                    }
                ]
            },
            "conditions has unknown key(s) resourceType",
        ),
        (
            {
                "rules": [
                    {
                        "resourceType": "t",
                        "decision": "conditional",
                        "conditions": {"rule": "R", "params": {"claims": "$ownerRef"}},
                    }
                ]
            },
            "conditions.params.claims: unknown placeholder $ownerRef",
        ),
        (
            {
                "rules": [
                    {
                        "resourceType": "t",
                        "decision": "conditional",
                        "conditions": {"not": {"rule": "R"}, "rule": "S"},
                    }
                ]
            },
            "conditions.not must be alone",
        ),
        (
            {
                "rules": [
                    {
                        "resourceType": "t",
                        "decision": "conditional",
                        "pluginId": "",
                        "conditions": {"rule": "R"},
                    }
                ]
            },
            "'pluginId' must be a non-empty string",
        ),
    ],
)
def test_each_malformation_names_the_rule(policy: Any, message: str) -> None:
    with pytest.raises(InputError) as raised:
        read_config_policy(policy)
    assert message in str(raised.value)


async def test_a_malformed_policy_stops_the_start() -> None:
    config = {
        "permission": {
            "enabled": True,
            "policy": {"rules": [{"permission": "x", "decision": "nope"}]},
        }
    }
    with pytest.raises(BackendStartupError) as raised:
        async with start_test_backend(features=[permission_plugin()], config=config):
            pass
    assert "permission.policy.rules[0] (x): 'decision' must be allow, deny or conditional" in str(
        raised.value
    )


def policy_module(module_id: str) -> Any:
    def register(env: ModuleRegistrationPoints) -> None:
        async def init(policy: PolicyExtension) -> None:
            policy.set_policy(AllowAllPolicy())

        env.register_init(init)

    return create_backend_module(plugin_id="permission", module_id=module_id, register=register)


async def test_two_policy_modules_stop_the_start() -> None:
    features = [permission_plugin(), permission_module_allow_all_policy(), policy_module("mine")]
    with pytest.raises(BackendStartupError) as raised:
        async with start_test_backend(features=features):
            pass
    assert "Two modules set the permission policy" in str(raised.value)


async def test_a_module_policy_and_a_config_policy_stop_the_start() -> None:
    features = [permission_plugin(), permission_module_allow_all_policy()]
    config = {"permission": {"enabled": True, "policy": {"default": "deny"}}}
    with pytest.raises(BackendStartupError) as raised:
        async with start_test_backend(features=features, config=config):
            pass
    assert "permission.policy is set, but a module set the policy" in str(raised.value)


async def test_enabled_without_any_policy_stops_the_start() -> None:
    with pytest.raises(BackendStartupError) as raised:
        async with start_test_backend(
            features=[permission_plugin()], config={"permission": {"enabled": True}}
        ):
            pass
    assert "The permission plugin needs a policy" in str(raised.value)


CREATE_BODY = {
    "items": [{"id": "1", "permission": {"type": "basic", "name": "x", "attributes": {}}}]
}


@pytest.mark.parametrize(
    ("features", "config", "expected"),
    [
        # disabled and nothing chosen: allow-all (clients do not ask anyway)
        ([], {}, "ALLOW"),
        ([permission_module_allow_all_policy()], {"permission": {"enabled": True}}, "ALLOW"),
        ([], {"permission": {"enabled": True, "policy": {"default": "deny"}}}, "DENY"),
    ],
)
async def test_the_policy_in_use(
    features: list[Any], config: dict[str, Any], expected: str
) -> None:
    async with start_test_backend(features=[permission_plugin(), *features], config=config) as test:
        response = await test.client.post("/api/permission/authorize", json=CREATE_BODY)
        assert response.status_code == 200, response.text
        assert response.json() == {"items": [{"id": "1", "result": expected}]}
