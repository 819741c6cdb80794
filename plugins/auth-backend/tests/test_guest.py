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


GUEST_REFUSED = (
    "The guest provider cannot be used outside of a development environment unless "
    "'auth.providers.guest.dangerouslyAllowOutsideDevelopment' is enabled"
)


async def test_guest_is_refused_outside_development() -> None:
    async with auth_backend({"backend": {"environment": "production"}}) as test:
        response = await test.client.get("/api/auth/guest/refresh", headers=XHR)
        assert response.status_code == 403
        assert response.json()["error"] == {"name": "NotAllowedError", "message": GUEST_REFUSED}
        assert "token" not in response.text


async def test_backstage_env_decides_over_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKSTAGE_ENV", "production,example-catalog")
    async with auth_backend() as test:  # the config says development
        response = await test.client.get("/api/auth/guest/refresh", headers=XHR)
        assert response.status_code == 403
    monkeypatch.setenv("BACKSTAGE_ENV", "compose,development")
    async with auth_backend({"backend": {"environment": "production"}}) as test:
        response = await test.client.get("/api/auth/guest/refresh", headers=XHR)
        assert response.status_code == 200


async def test_guest_outside_development_when_dangerously_allowed() -> None:
    config = {
        "backend": {"environment": "production"},
        "auth": {"providers": {"guest": {"dangerouslyAllowOutsideDevelopment": True}}},
    }
    async with auth_backend(config) as test:
        response = await test.client.get("/api/auth/guest/refresh")
        assert response.status_code == 200


async def test_guest_not_configured_is_404() -> None:
    async with auth_backend(guest=False) as test:
        response = await test.client.get("/api/auth/guest/refresh", headers=XHR)
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "No auth provider registered for 'guest'"


async def test_configured_refs_expiry_and_omitted_ownership_claim() -> None:
    config = {
        "auth": {
            "backstageTokenExpiration": {"minutes": 1},  # clamped to ten
            "omitIdentityTokenOwnershipClaim": True,
            "providers": {
                "guest": {
                    "userEntityRef": "User:Default/Jane",
                    "ownershipEntityRefs": ["user:default/jane", "Group:default/Team-A"],
                }
            },
        }
    }
    async with auth_backend(config) as test:
        body = (await test.client.get("/api/auth/guest/refresh")).json()
        identity = body["backstageIdentity"]
        assert identity["identity"]["userEntityRef"] == "user:default/jane"
        assert identity["identity"]["ownershipEntityRefs"] == [
            "user:default/jane",
            "group:default/team-a",
        ]
        claims = _segment(identity["token"], 1)
        assert "ent" not in claims
        assert claims["exp"] - claims["iat"] == 600
        assert 590 <= identity["expiresInSeconds"] <= 600


async def test_a_longer_expiry_is_clamped_to_a_day() -> None:
    async with auth_backend({"auth": {"backstageTokenExpiration": "48h"}}) as test:
        token = (await test.client.get("/api/auth/guest/refresh")).json()["backstageIdentity"][
            "token"
        ]
        claims = _segment(token, 1)
        assert claims["exp"] - claims["iat"] == 86400


async def test_openid_configuration_and_jwks() -> None:
    async with auth_backend() as test:
        base = f"{test.base_url}/api/auth"
        document = (await test.client.get("/api/auth/.well-known/openid-configuration")).json()
        assert document["issuer"] == base
        assert document["jwks_uri"] == f"{base}/.well-known/jwks.json"
        assert document["userinfo_endpoint"] == f"{base}/v1/userinfo"
        assert document["claims_supported"] == ["sub", "ent"]
        assert (await test.client.get("/api/auth/.well-known/jwks.json")).json() == {"keys": []}
        token = (await test.client.get("/api/auth/guest/refresh")).json()["backstageIdentity"][
            "token"
        ]
        (key,) = (await test.client.get("/api/auth/.well-known/jwks.json")).json()["keys"]
        assert key["kid"] == _segment(token, 0)["kid"]
        assert set(key) == {"kty", "crv", "x", "y", "kid", "alg"}
