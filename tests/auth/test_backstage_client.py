"""Backstage's own verification accepts our tokens: `@backstage/plugin-auth-node`'s
`DefaultIdentityClient` (from npm) verifies a guest token against the auth plugin's JWKS
with its issuer, audience and algorithm, and jose verifies the limited token cut from the
token's `uip` claim, as Backstage's backends build the `backstage-auth` cookie."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from backstage_backend_test_utils import npm_ci

from ._units import unit

HERE = Path(__file__).parent / "backstage_client"


@pytest.fixture(scope="module")
def client_packages() -> str:
    """`npm ci` from the committed lock file, once per run; the node binary."""
    return npm_ci(HERE, "run Backstage's identity client")


@pytest.fixture(autouse=True)
def _no_backstage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKSTAGE_ENV", raising=False)


async def test_backstage_identity_client_accepts_our_tokens(client_packages: str) -> None:
    config = {"auth": {"providers": {"guest": {"ownershipEntityRefs": ["group:default/team-a"]}}}}
    async with unit(catalog=False, config=config) as test:
        token = (await test.client.get("/api/auth/guest/refresh")).json()["backstageIdentity"][
            "token"
        ]
        # the script calls this backend back for its JWKS: the loop must keep serving
        process = await asyncio.create_subprocess_exec(
            client_packages,
            "check_tokens.mjs",
            f"{test.base_url}/api/auth",
            token,
            cwd=HERE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    result = json.loads(stdout)
    assert result["full"] == {
        "ok": True,
        "value": {
            "type": "user",
            "userEntityRef": "user:development/guest",
            "ownershipEntityRefs": ["group:default/team-a"],
        },
    }
    assert result["limited"] == {
        "ok": True,
        "value": {"sub": "user:development/guest", "typ": "vnd.backstage.limited-user"},
    }
    assert result["forged"] is False
