"""A module policy's conditional decision that cannot apply to the permission asked (a
basic permission, another resource type) fails the request with 500, as in Backstage."""

from __future__ import annotations

from typing import Any

from backstage_backend_plugin_api import ModuleRegistrationPoints, create_backend_module
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_permission_backend import permission_plugin
from backstage_plugin_permission_common import ConditionalPolicyDecision, PermissionCondition
from backstage_plugin_permission_node import PolicyExtension, PolicyQuery, PolicyQueryUser


class AlwaysConditionalOnWidgets:
    async def handle(self, request: PolicyQuery, user: PolicyQueryUser | None) -> Any:
        return ConditionalPolicyDecision(
            "widgets", "widgets-item", PermissionCondition("HAS_COLOR", "widgets-item", {})
        )


def policy_module() -> Any:
    def register(env: ModuleRegistrationPoints) -> None:
        async def init(policy: PolicyExtension) -> None:
            policy.set_policy(AlwaysConditionalOnWidgets())

        env.register_init(init)

    return create_backend_module(plugin_id="permission", module_id="mistaken", register=register)


async def test_conditional_decisions_that_cannot_apply_are_server_errors() -> None:
    features = [permission_plugin(), policy_module()]
    async with start_test_backend(
        features=features, config={"permission": {"enabled": True}}
    ) as test:
        basic = {"type": "basic", "name": "x.create", "attributes": {"action": "create"}}
        other = {"type": "resource", "name": "y.read", "attributes": {}, "resourceType": "gadgets"}
        for permission, message in (
            (basic, "Conditional decision returned from permission policy for non-resource"),
            (other, "Invalid resource conditions returned from permission policy"),
        ):
            body = {"items": [{"id": "1", "permission": permission, "resourceRef": "r"}]}
            if permission is basic:
                del body["items"][0]["resourceRef"]
            response = await test.client.post("/api/permission/authorize", json=body)
            assert response.status_code == 500, response.text
            assert message in response.json()["error"]["message"]
