"""The permission plugin with the auth plugin's own user tokens (guest sign-in): the
ownership refs come from the token's `ent` when a user asks, and from the auth plugin's
`/v1/userinfo` when a plugin asks on the user's behalf (its limited token has none)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_plugin_auth_backend import auth_features
from backstage_plugin_permission_backend import permission_plugin

from ._docs import docs_plugin

GUEST = "user:default/guest"
POLICY = {
    "default": "deny",
    "rules": [
        {
            "permission": "docs.item.create",
            "members": ["group:default/writers"],
            "decision": "allow",
        },
        {
            "resourceType": "docs-item",
            "decision": "conditional",
            "conditions": {"rule": "IS_OWNER", "params": {"claims": "$ownerRefs"}},
        },
    ],
}


@pytest.fixture
async def backend() -> AsyncIterator[TestBackend]:
    features = [
        auth_service_factory,
        http_auth_service_factory,
        *auth_features(),
        permission_plugin(),
        docs_plugin(),
    ]
    config = {
        "backend": {"environment": "development"},
        "auth": {
            "providers": {
                "guest": {
                    "userEntityRef": GUEST,
                    "ownershipEntityRefs": [GUEST, "group:default/writers", "group:default/team-b"],
                }
            }
        },
        "permission": {"enabled": True, "policy": POLICY},
    }
    async with start_test_backend(features=features, config=config) as test:
        yield test


async def test_a_signed_in_users_ownership_decides(backend: TestBackend) -> None:
    response = await backend.client.get(
        "/api/auth/guest/refresh", headers={"x-requested-with": "XMLHttpRequest"}
    )
    assert response.status_code == 200, response.text
    token = response.json()["backstageIdentity"]["token"]
    headers = {"authorization": f"Bearer {token}"}
    # the user asks directly: ownership from the token's ent
    item = {"type": "resource", "name": "docs.item.read", "attributes": {"action": "read"}}
    body = {
        "items": [
            {
                "id": "1",
                "permission": {**item, "resourceType": "docs-item"},
                "resourceRef": "doc:b",
            },
            {
                "id": "2",
                "permission": {**item, "resourceType": "docs-item"},
                "resourceRef": "doc:a",
            },
            {
                "id": "3",
                "permission": {"type": "basic", "name": "docs.item.create", "attributes": {}},
            },
        ]
    }
    response = await backend.client.post("/api/permission/authorize", json=body, headers=headers)
    assert response.json() == {
        "items": [
            {"id": "1", "result": "ALLOW"},  # team-b's
            {"id": "2", "result": "DENY"},  # jane's
            {"id": "3", "result": "ALLOW"},  # a writer
        ]
    }
    # the docs plugin asks on the user's behalf: ownership from /v1/userinfo
    response = await backend.client.get("/api/docs/visible", headers=headers)
    assert response.json()["conditions"]["params"]["claims"] == [
        GUEST,
        "group:default/writers",
        "group:default/team-b",
    ]
    for ref, expected in (("doc:b", "ALLOW"), ("doc:a", "DENY")):
        response = await backend.client.get(
            f"/api/docs/allowed/docs.item.read?ref={ref}", headers=headers
        )
        assert response.json() == {"result": expected}
