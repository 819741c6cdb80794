"""`POST /api/permission/authorize` over real user tokens and a plugin applying
conditions, with the config policy; and the routes every registering plugin serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_plugin_api import core_services
from backstage_backend_test_utils import TestBackend, TestUserTokens, start_test_backend
from backstage_plugin_permission_backend import permission_plugin

from ._widgets import loaded, widget_create, widget_read, widgets_plugin

JANE = "user:default/jane"
JANE_REFS = [JANE, "group:default/team-a"]
ADMIN = "user:default/admin"

POLICY: dict[str, Any] = {
    "default": "deny",
    "rules": [
        {
            "permission": "widgets.item.create",
            "members": ["group:default/admins"],
            "decision": "allow",
        },
        {
            "resourceType": "widgets-item",
            "members": [JANE],
            "decision": "conditional",
            "conditions": {
                "anyOf": [
                    {"rule": "IS_OWNER", "params": {"claims": "$ownerRefs"}},
                    {"rule": "HAS_COLOR", "params": {"colors": ["yellow"]}},
                ]
            },
        },
        {"permission": "widgets.item.read", "decision": "allow"},
    ],
}

READ = {
    "type": "resource",
    "name": "widgets.item.read",
    "attributes": {"action": "read"},
    "resourceType": "widgets-item",
}
CREATE = {"type": "basic", "name": "widgets.item.create", "attributes": {"action": "create"}}


@pytest.fixture
async def tokens() -> TestUserTokens:
    return TestUserTokens()


@pytest.fixture
async def backend(tokens: TestUserTokens) -> AsyncIterator[TestBackend]:
    features = [
        auth_service_factory,
        http_auth_service_factory,
        tokens.plugin(),
        permission_plugin(),
        widgets_plugin(),
    ]
    config = {"permission": {"enabled": True, "policy": POLICY}}
    async with start_test_backend(features=features, config=config) as test:
        yield test


async def authorize(test: TestBackend, token: str | None, body: Any) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return await test.client.post("/api/permission/authorize", json=body, headers=headers)


def error_message(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["response"] == {"statusCode": status}
    return str(body["error"]["message"])


async def test_basic_permissions_batched_with_ids_in_request_order(
    backend: TestBackend, tokens: TestUserTokens
) -> None:
    admin = tokens.token(ADMIN, [ADMIN, "group:default/admins"])
    jane = tokens.token(JANE, JANE_REFS)
    body = {
        "items": [
            {"id": "b", "permission": CREATE},
            {"id": "a", "permission": {**CREATE, "name": "other"}},
        ]
    }
    response = await authorize(backend, admin, body)
    assert response.status_code == 200
    assert response.json() == {
        "items": [{"id": "b", "result": "ALLOW"}, {"id": "a", "result": "DENY"}]
    }
    response = await authorize(backend, jane, body)
    assert response.json()["items"] == [
        {"id": "b", "result": "DENY"},
        {"id": "a", "result": "DENY"},
    ]


async def test_resource_refs_are_decided_by_the_owning_plugin(
    backend: TestBackend, tokens: TestUserTokens
) -> None:
    jane = tokens.token(JANE, JANE_REFS)
    loaded.clear()
    body = {
        "items": [
            {"id": "1", "permission": READ, "resourceRef": "widget:red-one"},
            {"id": "2", "permission": READ, "resourceRef": "widget:green-one"},
            {
                "id": "3",
                "permission": READ,
                "resourceRef": ["widget:blue-one", "widget:green-one", "widget:missing"],
            },
        ]
    }
    response = await authorize(backend, jane, body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "items": [
            {"id": "1", "result": "ALLOW"},  # owned by jane
            {"id": "2", "result": "DENY"},  # neither owned nor yellow
            {"id": "3", "result": ["ALLOW", "DENY", "DENY"]},  # team-a's; other's; missing
        ]
    }
    # one apply-conditions call for the batch, each resource loaded once
    assert loaded == [["widget:red-one", "widget:green-one", "widget:blue-one", "widget:missing"]]
    # a definitive decision stays one value for an array of refs
    other = tokens.token("user:default/bob")
    body = {
        "items": [
            {"id": "x", "permission": READ, "resourceRef": ["widget:red-one", "widget:green-one"]}
        ]
    }
    assert (await authorize(backend, other, body)).json() == {
        "items": [{"id": "x", "result": "ALLOW"}]
    }


async def test_a_plugin_on_a_users_behalf_gets_the_conditions(
    backend: TestBackend, tokens: TestUserTokens
) -> None:
    jane = tokens.header(JANE, JANE_REFS)
    response = await backend.client.get("/api/widgets/visible", headers=jane)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "result": "CONDITIONAL",
        "pluginId": "widgets",
        "conditions": {
            "anyOf": [
                {
                    "rule": "IS_OWNER",
                    "resourceType": "widgets-item",
                    "params": {"claims": JANE_REFS},
                },
                {
                    "rule": "HAS_COLOR",
                    "resourceType": "widgets-item",
                    "params": {"colors": ["yellow"]},
                },
            ]
        },
    }
    for ref, result in (("widget:red-one", "ALLOW"), ("widget:green-one", "DENY")):
        response = await backend.client.get(f"/api/widgets/can-read/{ref}", headers=jane)
        assert response.json() == {"result": result}
    bob = tokens.header("user:default/bob")
    assert (await backend.client.get("/api/widgets/visible", headers=bob)).json() == {
        "result": "ALLOW"
    }


async def test_ownership_refs_come_from_userinfo_when_the_token_has_none(
    backend: TestBackend, tokens: TestUserTokens
) -> None:
    token = tokens.token(JANE, JANE_REFS, include_ent=False)
    body = {"items": [{"id": "1", "permission": READ, "resourceRef": "widget:blue-one"}]}
    assert (await authorize(backend, token, body)).json()["items"] == [
        {"id": "1", "result": "ALLOW"}
    ]


async def test_direct_users_must_name_the_resource(
    backend: TestBackend, tokens: TestUserTokens
) -> None:
    jane = tokens.token(JANE, JANE_REFS)
    response = await authorize(backend, jane, {"items": [{"id": "1", "permission": READ}]})
    assert error_message(response, 400) == (
        "Resource permissions require a resourceRef to be set. Direct user requests without a "
        "resourceRef are not allowed."
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {"items": [{"id": "1", "permission": CREATE, "resourceRef": "x"}]},
            "must not be set for basic",
        ),
        ({"items": [{"id": "1", "permission": READ, "resourceRef": []}]}, "non-empty array"),
        ({"items": [{"id": "1", "permission": READ, "resourceRef": [1]}]}, "non-empty array"),
        ({"items": [{"permission": CREATE}]}, "items[0].id"),
        ({"items": [{"id": "1", "permission": {**CREATE, "type": "other"}}]}, "permission.type"),
        ({"items": [{"id": "1", "permission": {"type": "basic", "name": "x"}}]}, "attributes"),
        (
            {"items": [{"id": "1", "permission": {**CREATE, "attributes": {"action": "fly"}}}]},
            "action",
        ),
        ({"items": [{"id": "1", "permission": {**READ, "resourceType": None}}]}, "resourceType"),
        ({"items": {}}, "items must be an array"),
        ([], "expected an object"),
    ],
)
async def test_malformed_requests_get_400(
    backend: TestBackend, tokens: TestUserTokens, body: Any, fragment: str
) -> None:
    response = await authorize(backend, tokens.token(JANE), body)
    assert fragment in error_message(response, 400)


async def test_bad_json_gets_400(backend: TestBackend, tokens: TestUserTokens) -> None:
    response = await backend.client.post(
        "/api/permission/authorize",
        content=b'{"items": [',
        headers={
            "authorization": f"Bearer {tokens.token(JANE)}",
            "content-type": "application/json",
        },
    )
    assert "Invalid JSON" in error_message(response, 400)


async def test_service_principals_and_missing_tokens_are_refused(backend: TestBackend) -> None:
    auth = await backend.get_service(core_services.auth, "widgets")
    own = await auth.get_own_service_credentials()
    token = (
        await auth.get_plugin_request_token(on_behalf_of=own, target_plugin_id="permission")
    ).token
    response = await authorize(backend, token, {"items": [{"id": "1", "permission": CREATE}]})
    assert error_message(response, 403) == "This endpoint does not allow 'service' credentials"
    response = await authorize(backend, None, {"items": [{"id": "1", "permission": CREATE}]})
    assert error_message(response, 401) == "Missing credentials"


async def test_health_is_open(backend: TestBackend) -> None:
    response = await backend.client.get("/api/permission/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_a_registering_plugin_serves_its_metadata(
    backend: TestBackend, tokens: TestUserTokens
) -> None:
    url = "/api/widgets/.well-known/backstage/permissions/metadata"
    assert (await backend.client.get(url)).status_code == 401
    response = await backend.client.get(url, headers=tokens.header(JANE))
    assert response.status_code == 200
    body = response.json()
    assert body["permissions"] == [READ, CREATE]
    assert [rule["name"] for rule in body["rules"]] == ["HAS_COLOR", "IS_OWNER"]
    schema = body["rules"][0]["paramsSchema"]
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["required"] == ["colors"]
    assert body["rules"][0]["resourceType"] == "widgets-item"
    assert [widget_read.name, widget_create.name] == [READ["name"], CREATE["name"]]


APPLY = "/api/widgets/.well-known/backstage/permissions/apply-conditions"


def apply_item(
    conditions: Any, ref: Any = "widget:red-one", resource_type: str = "widgets-item"
) -> dict[str, Any]:
    return {
        "items": [
            {
                "id": "i",
                "resourceRef": ref,
                "resourceType": resource_type,
                "result": "CONDITIONAL",
                "pluginId": "widgets",
                "conditions": conditions,
            }
        ]
    }


async def service_token(test: TestBackend) -> dict[str, str]:
    auth = await test.get_service(core_services.auth, "permission")
    own = await auth.get_own_service_credentials()
    token = (
        await auth.get_plugin_request_token(on_behalf_of=own, target_plugin_id="widgets")
    ).token
    return {"authorization": f"Bearer {token}"}


async def test_apply_conditions_evaluates_criteria(backend: TestBackend) -> None:
    headers = await service_token(backend)
    red = {"rule": "HAS_COLOR", "resourceType": "widgets-item", "params": {"colors": ["red"]}}
    cases = [
        (red, "widget:red-one", "ALLOW"),
        ({"not": red}, "widget:red-one", "DENY"),
        ({"allOf": [red, {"not": red}]}, "widget:red-one", "DENY"),
        ({"anyOf": [{"not": red}, red]}, "widget:blue-one", "ALLOW"),
        (red, "widget:missing", "DENY"),
        (red, ["widget:red-one", "widget:blue-one"], ["ALLOW", "DENY"]),
    ]
    for conditions, ref, expected in cases:
        response = await backend.client.post(
            APPLY, json=apply_item(conditions, ref), headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"items": [{"id": "i", "result": expected}]}, conditions


async def test_apply_conditions_refusals(backend: TestBackend, tokens: TestUserTokens) -> None:
    headers = await service_token(backend)
    red = {"rule": "HAS_COLOR", "resourceType": "widgets-item", "params": {"colors": ["red"]}}
    response = await backend.client.post(APPLY, json=apply_item(red))
    assert error_message(response, 401) == "Missing credentials"
    response = await backend.client.post(APPLY, json=apply_item(red), headers=tokens.header(JANE))
    error_message(response, 403)  # a direct user
    response = await backend.client.post(
        APPLY, json=apply_item(red, resource_type="gadgets"), headers=headers
    )
    assert error_message(response, 400) == "Unexpected resource types: gadgets"
    bad = {**red, "params": {"colors": "red"}}
    response = await backend.client.post(APPLY, json=apply_item(bad), headers=headers)
    assert error_message(response, 400).startswith("Parameters to rule are invalid")
    response = await backend.client.post(APPLY, json=apply_item({"allOf": []}), headers=headers)
    assert "non-empty array" in error_message(response, 400)
    unknown = {"rule": "NOPE", "resourceType": "widgets-item"}
    response = await backend.client.post(APPLY, json=apply_item(unknown), headers=headers)
    assert response.status_code == 500
