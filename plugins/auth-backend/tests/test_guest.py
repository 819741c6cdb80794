"""The guest provider on the auth plugin: tokens other plugins accept, development only."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ._backends import auth_backend

XHR = {"X-Requested-With": "XMLHttpRequest"}


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


@pytest.fixture(autouse=True)
def _no_backstage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKSTAGE_ENV", raising=False)


async def test_guest_token_is_accepted_by_another_plugin() -> None:
    async with auth_backend() as test:
        response = await test.client.get("/api/auth/guest/refresh", headers=XHR)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"profile", "backstageIdentity"}
        identity = body["backstageIdentity"]
        # no catalog here: the guest is signed in with the configured refs anyway
        assert identity["identity"] == {
            "type": "user",
            "userEntityRef": "user:development/guest",
            "ownershipEntityRefs": ["user:development/guest"],
        }
        assert 3590 <= identity["expiresInSeconds"] <= 3600
        token = identity["token"]
        header, claims = _segment(token, 0), _segment(token, 1)
        assert header["typ"] == "vnd.backstage.user"
        assert header["alg"] == "ES256"
        assert isinstance(header["kid"], str)
        assert list(claims) == ["iss", "sub", "ent", "aud", "iat", "exp", "uip"]
        assert claims["iss"] == f"{test.base_url}/api/auth"
        assert claims["aud"] == "backstage"
        assert claims["exp"] - claims["iat"] == 3600

        whoami = await test.client.get(
            "/api/probe/whoami", headers={"Authorization": f"Bearer {token}"}
        )
        assert whoami.status_code == 200, whoami.text
        assert whoami.json() == {"type": "user", "userEntityRef": "user:development/guest"}
