"""core.permissions of a plugin in one backend asking the permission plugin in another:
decisions batched per turn and cached per caller token (counted on the permission side),
service principals and disabled permissions decided without a call."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_plugin_api import (
    AuthorizePermissionRequest,
    BackstageCredentials,
    BackstageUserPrincipal,
    core_services,
)
from backstage_backend_test_utils import (
    CapturingLogger,
    TestBackend,
    TestUserTokens,
    mock_services,
    start_test_backend,
)
from backstage_plugin_permission_backend import permission_plugin

from ._docs import doc_create, doc_read, docs_plugin

JANE = "user:default/jane"
JANE_REFS = [JANE, "group:default/team-a"]
STATIC_TOKEN = "static-token-for-the-permission-tests"
RESTRICTED_TOKEN = "restricted-token-for-the-permission-tests"

POLICY = {
    "default": "deny",
    "rules": [
        {"permission": "docs.item.create", "members": [JANE], "decision": "allow"},
        {
            "resourceType": "docs-item",
            "decision": "conditional",
            "conditions": {
                "anyOf": [
                    {"rule": "IS_OWNER", "params": {"claims": "$ownerRefs"}},
                    {"rule": "IS_PUBLIC"},
                ]
            },
        },
    ],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Units:
    docs: TestBackend
    permission: TestBackend
    permission_log: CapturingLogger
    tokens: TestUserTokens

    def authorize_calls(self) -> int:
        return sum(
            1
            for m in self.permission_log.messages()
            if m.startswith('"POST /api/permission/authorize"')
        )


async def start_units(*, enabled: bool = True, open_routes: bool = False) -> AsyncIterator[Units]:
    tokens = TestUserTokens()
    docs_port, permission_port = free_port(), free_port()
    docs_url, permission_url = (f"http://127.0.0.1:{p}" for p in (docs_port, permission_port))
    log = CapturingLogger("info")
    static_access = {
        "externalAccess": [
            {"type": "static", "options": {"token": STATIC_TOKEN, "subject": "ci"}},
            {
                "type": "static",
                "options": {"token": RESTRICTED_TOKEN, "subject": "reporting"},
                "accessRestrictions": [
                    {
                        "plugin": "docs",
                        "permission": ["docs.item.read", "docs.item.delete"],
                        "permissionAttribute": {"action": ["read"]},
                    }
                ],
            },
        ]
    }
    if open_routes:  # requests without a token reach the routes as nobody (`none`)
        static_access["dangerouslyDisableDefaultAuthPolicy"] = True
    async with AsyncExitStack() as stack:
        permission = await stack.enter_async_context(
            start_test_backend(
                features=[
                    auth_service_factory,
                    http_auth_service_factory,
                    mock_services.root_logger_factory(logger=log),
                    tokens.plugin(),
                    permission_plugin(),
                ],
                config={
                    "backend": {
                        "baseUrl": permission_url,
                        "listen": {"port": permission_port},
                        "auth": {"dangerouslyDisableDefaultAuthPolicy": open_routes},
                    },
                    "permission": {"enabled": True, "policy": POLICY},
                    "discovery": {
                        "endpoints": [
                            {"target": f"{docs_url}/api/{{{{pluginId}}}}", "plugins": ["docs"]}
                        ]
                    },
                },
            )
        )
        docs = await stack.enter_async_context(
            start_test_backend(
                features=[auth_service_factory, http_auth_service_factory, docs_plugin()],
                config={
                    "backend": {
                        "baseUrl": docs_url,
                        "listen": {"port": docs_port},
                        "auth": static_access,
                    },
                    "permission": {"enabled": enabled},
                    "discovery": {
                        "endpoints": [
                            {
                                "target": f"{permission_url}/api/{{{{pluginId}}}}",
                                "plugins": ["permission", "auth"],
                            }
                        ]
                    },
                },
            )
        )
        yield Units(docs, permission, log, tokens)


@pytest.fixture
async def units() -> AsyncIterator[Units]:
    async for started in start_units():
        yield started


async def test_concurrent_reads_with_one_token_cost_one_round_trip(units: Units) -> None:
    jane = units.tokens.header(JANE, JANE_REFS)
    responses = await asyncio.gather(
        *(units.docs.client.get("/api/docs/visible", headers=jane) for _ in range(20))
    )
    assert {r.status_code for r in responses} == {200}
    assert responses[0].json() == {
        "result": "CONDITIONAL",
        "conditions": {
            "anyOf": [
                {"rule": "IS_OWNER", "resourceType": "docs-item", "params": {"claims": JANE_REFS}},
                {"rule": "IS_PUBLIC", "resourceType": "docs-item"},
            ]
        },
    }
    assert units.authorize_calls() == 1
    # the decision is remembered for the token: asking again costs nothing
    assert (await units.docs.client.get("/api/docs/visible", headers=jane)).status_code == 200
    assert units.authorize_calls() == 1
    # another token (here: another user) is asked for on its own, and answered for itself
    bob = units.tokens.header("user:default/bob")
    response = await units.docs.client.get("/api/docs/visible", headers=bob)
    assert response.json()["conditions"]["anyOf"][0]["params"] == {"claims": ["user:default/bob"]}
    assert units.authorize_calls() == 2


async def test_different_asks_of_one_turn_go_out_as_one_request(units: Units) -> None:
    permissions = await units.docs.get_service(core_services.permissions, "docs")
    token = units.tokens.token(JANE, JANE_REFS)
    credentials = BackstageCredentials(
        BackstageUserPrincipal(JANE), expires_at=datetime.now(UTC) + timedelta(hours=1), token=token
    )
    asks = [
        permissions.authorize([AuthorizePermissionRequest(doc_create)], credentials=credentials),
        permissions.authorize(
            [AuthorizePermissionRequest(doc_read, "doc:a")], credentials=credentials
        ),
        permissions.authorize(
            [AuthorizePermissionRequest(doc_read, "doc:b")], credentials=credentials
        ),
        permissions.authorize(
            [AuthorizePermissionRequest(doc_read, "doc:c")], credentials=credentials
        ),
    ]
    results = [d.result.value for (d,) in await asyncio.gather(*asks)]
    assert results == ["ALLOW", "ALLOW", "DENY", "ALLOW"]
    assert units.authorize_calls() == 1


async def test_a_decision_is_not_served_after_its_token_expired(units: Units) -> None:
    permissions = await units.docs.get_service(core_services.permissions, "docs")
    token = units.tokens.token(JANE, JANE_REFS)
    # credentials that run out in a moment (the token itself stays valid for the server)
    credentials = BackstageCredentials(
        BackstageUserPrincipal(JANE),
        expires_at=datetime.now(UTC) + timedelta(seconds=1),
        token=token,
    )
    ask = [AuthorizePermissionRequest(doc_create)]
    assert (await permissions.authorize(ask, credentials=credentials))[0].allowed
    assert (await permissions.authorize(ask, credentials=credentials))[0].allowed
    assert units.authorize_calls() == 1
    await asyncio.sleep(1.1)
    assert (await permissions.authorize(ask, credentials=credentials))[0].allowed
    assert units.authorize_calls() == 2
    expired = BackstageCredentials(
        BackstageUserPrincipal(JANE),
        expires_at=datetime.now(UTC) - timedelta(seconds=1),
        token=token,
    )
    await permissions.authorize(ask, credentials=expired)
    await permissions.authorize(ask, credentials=expired)
    assert units.authorize_calls() == 4


async def test_resource_refs_are_resolved_through_the_owning_plugin(units: Units) -> None:
    jane = units.tokens.header(JANE, JANE_REFS)
    results = {}
    for ref in ("doc:a", "doc:b", "doc:c", "doc:missing"):
        response = await units.docs.client.get(
            f"/api/docs/allowed/docs.item.read?ref={ref}", headers=jane
        )
        assert response.status_code == 200, response.text
        results[ref] = response.json()["result"]
    assert results == {"doc:a": "ALLOW", "doc:b": "DENY", "doc:c": "ALLOW", "doc:missing": "DENY"}


async def test_service_principals_are_decided_without_a_call(units: Units) -> None:
    def bearer(token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    for name in ("docs.item.read", "docs.item.create"):
        response = await units.docs.client.get(
            f"/api/docs/allowed/{name}?ref=doc:b", headers=bearer(STATIC_TOKEN)
        )
        assert response.json() == {"result": "ALLOW"}
    restricted = {
        "docs.item.read": "ALLOW",  # named, and its action is read
        "docs.item.delete": "DENY",  # named, but its action is not read
        "docs.item.create": "DENY",  # not named
    }
    for name, expected in restricted.items():
        response = await units.docs.client.get(
            f"/api/docs/allowed/{name}?ref=doc:b", headers=bearer(RESTRICTED_TOKEN)
        )
        assert response.json() == {"result": expected}, name
    assert units.authorize_calls() == 0


async def test_with_permissions_disabled_no_call_is_made() -> None:
    async for units in start_units(enabled=False):
        bob = units.tokens.header("user:default/bob")
        assert (await units.docs.client.get("/api/docs/visible", headers=bob)).json() == {
            "result": "ALLOW"
        }
        response = await units.docs.client.get("/api/docs/allowed/docs.item.create", headers=bob)
        assert response.json() == {"result": "ALLOW"}
        assert units.authorize_calls() == 0


async def test_nobodys_asks_go_without_a_token_and_get_nobodys_decisions() -> None:
    async for units in start_units(open_routes=True):
        # the create rule names members, which nobody is not; the read rule's conditions
        # need the caller's refs, which nobody has none of
        response = await units.docs.client.get("/api/docs/allowed/docs.item.create")
        assert response.json() == {"result": "DENY"}
        response = await units.docs.client.get("/api/docs/allowed/docs.item.read?ref=doc:c")
        assert response.json() == {"result": "DENY"}
        # where the default auth policy lets nobody in, a plugin may ask for nobody's
        # conditions (Backstage refuses, failing every such read): here nobody has no refs
        response = await units.docs.client.get("/api/docs/visible")
        assert response.status_code == 200, response.text
        assert response.json() == {"result": "DENY"}
        response = await units.docs.client.get("/api/docs/allowed/docs.item.create")
        assert units.authorize_calls() == 4  # nobody's decisions are never cached
