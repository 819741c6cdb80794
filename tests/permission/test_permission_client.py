"""Backstage's own `PermissionClient` (`@backstage/plugin-permission-common` from npm)
against the permission plugin: `authorize` (one by one and with Backstage's batched
requests), `authorizeConditional`, and a disabled client that makes no request.

The backend verifies real user tokens (`TestUserTokens`), the permission plugin runs the
config policy, and plugin `docs` owns the resource type and applies the conditions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_plugin_api import core_services
from backstage_backend_test_utils import (
    CapturingLogger,
    TestBackend,
    TestUserTokens,
    mock_services,
    npm_ci,
    start_test_backend,
)
from backstage_plugin_permission_backend import permission_plugin

from ._docs import docs_plugin

HERE = Path(__file__).parent
JANE = "user:default/jane"
JANE_REFS = [JANE, "group:default/team-a"]
POLICY = {
    "default": "deny",
    "rules": [
        {
            "permission": "docs.item.create",
            "members": ["group:default/team-a"],
            "decision": "allow",
        },
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
CREATE = {"type": "basic", "name": "docs.item.create", "attributes": {"action": "create"}}
READ = {
    "type": "resource",
    "name": "docs.item.read",
    "attributes": {"action": "read"},
    "resourceType": "docs-item",
}
DELETE = {**READ, "name": "docs.item.delete", "attributes": {"action": "delete"}}
OTHER = {"type": "basic", "name": "docs.other", "attributes": {}}


@pytest.fixture(scope="module")
def client_packages() -> None:
    """`npm ci` from the committed lock file, once per run."""
    npm_ci(HERE, "run Backstage's permission client")


async def run_client(plan: dict[str, Any]) -> list[Any]:
    # asynchronously: the backend answering the client runs on this event loop
    process = await asyncio.create_subprocess_exec(
        "node",
        str(HERE / "check_client.mjs"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(
        process.communicate(json.dumps(plan).encode()), timeout=60
    )
    assert process.returncode == 0, stderr.decode()
    results: list[Any] = json.loads(stdout)["results"]
    return results


@pytest.fixture
async def backend() -> AsyncIterator[tuple[TestBackend, TestUserTokens, CapturingLogger]]:
    tokens = TestUserTokens()
    log = CapturingLogger("info")
    features = [
        auth_service_factory,
        http_auth_service_factory,
        mock_services.root_logger_factory(logger=log),
        tokens.plugin(),
        permission_plugin(),
        docs_plugin(),
    ]
    config = {"permission": {"enabled": True, "policy": POLICY}}
    async with start_test_backend(features=features, config=config) as test:
        yield test, tokens, log


async def obo_token(test: TestBackend, user_token: str) -> str:
    """What a plugin (`docs`) sends when it asks on the user's behalf."""
    auth = await test.get_service(core_services.auth, "docs")
    credentials = await auth.authenticate(user_token)
    token = await auth.get_plugin_request_token(
        on_behalf_of=credentials, target_plugin_id="permission"
    )
    return token.token


async def test_backstages_permission_client(
    client_packages: None, backend: tuple[TestBackend, TestUserTokens, CapturingLogger]
) -> None:
    test, tokens, log = backend
    jane = tokens.token(JANE, JANE_REFS)
    bob = tokens.token("user:default/bob")
    jane_obo = await obo_token(test, jane)

    def ref(name: str) -> dict[str, Any]:
        return {"permission": READ, "resourceRef": name}

    calls = [
        # 0: authorize, one item per request, basic and resource permissions
        {
            "method": "authorize",
            "token": jane,
            "requests": [
                {"permission": CREATE},
                {"permission": OTHER},
                ref("doc:a"),
                ref("doc:b"),
                ref("doc:c"),
            ],
        },
        # 1: another user
        {
            "method": "authorize",
            "token": bob,
            "requests": [{"permission": CREATE}, ref("doc:a"), ref("doc:c")],
        },
        # 2: Backstage's batched requests: one item per permission, refs as an array
        {
            "method": "authorize",
            "token": jane,
            "batched": True,
            "requests": [
                ref("doc:a"),
                ref("doc:b"),
                {"permission": CREATE},
                ref("doc:c"),
                ref("doc:missing"),
            ],
        },
        # 3: authorizeConditional on a user's behalf: the conditions themselves
        {
            "method": "authorizeConditional",
            "token": jane_obo,
            "requests": [{"permission": READ}, {"permission": CREATE}],
        },
        # 4: a direct user may not ask without a resource
        {"method": "authorizeConditional", "token": jane, "requests": [{"permission": READ}]},
        # 5: no token
        {"method": "authorize", "token": None, "requests": [{"permission": CREATE}]},
    ]
    results = await run_client({"baseUrl": f"{test.base_url}/api/permission", "calls": calls})

    # the client hands back each response item (its id included) in request order
    results = [
        [{k: v for k, v in item.items() if k != "id"} for item in result]
        if isinstance(result, list)
        else result
        for result in results
    ]
    allow, deny = {"result": "ALLOW"}, {"result": "DENY"}
    assert results[0] == [allow, deny, allow, deny, allow]
    assert results[1] == [deny, deny, allow]
    assert results[2] == [allow, deny, allow, allow, deny]
    assert results[3] == [
        {
            "result": "CONDITIONAL",
            "pluginId": "docs",
            "resourceType": "docs-item",
            "conditions": {
                "anyOf": [
                    {
                        "rule": "IS_OWNER",
                        "resourceType": "docs-item",
                        "params": {"claims": JANE_REFS},
                    },
                    {"rule": "IS_PUBLIC", "resourceType": "docs-item"},
                ]
            },
        },
        allow,
    ]
    assert results[4] == {
        "error": "ResponseError",
        "status": 400,
        "bodyMessage": "Resource permissions require a resourceRef to be set. Direct user "
        "requests without a resourceRef are not allowed.",
    }
    assert results[5] == {
        "error": "ResponseError",
        "status": 401,
        "bodyMessage": "Missing credentials",
    }
    requests = [m for m in log.messages() if m.startswith('"POST /api/permission/authorize"')]
    assert len(requests) == 6


async def test_a_disabled_client_asks_nothing(
    client_packages: None, backend: tuple[TestBackend, TestUserTokens, CapturingLogger]
) -> None:
    test, tokens, log = backend
    calls = [
        {
            "method": "authorize",
            "token": tokens.token("user:default/bob"),
            "enabled": False,
            "requests": [{"permission": CREATE}],
        },
        {
            "method": "authorizeConditional",
            "token": None,
            "enabled": False,
            "requests": [{"permission": DELETE}],
        },
    ]
    results = await run_client({"baseUrl": f"{test.base_url}/api/permission", "calls": calls})
    assert results == [[{"result": "ALLOW"}], [{"result": "ALLOW"}]]
    assert not [m for m in log.messages() if "/api/permission/authorize" in m]
