"""`/v1/userinfo`: the claims of the last sign-in, for full and limited user tokens only."""

from __future__ import annotations

import base64
import json
import time

import pytest
from backstage_backend_test_utils import TestUserTokens

from ._backends import auth_backend

XHR = {"X-Requested-With": "XMLHttpRequest"}


def _limited(token: str) -> str:
    head, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

    def b64(value: dict[str, object]) -> str:
        raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    limited_header = {"typ": "vnd.backstage.limited-user", "alg": "ES256", "kid": header["kid"]}
    body = {"sub": claims["sub"], "iat": claims["iat"], "exp": claims["exp"]}
    return f"{b64(limited_header)}.{b64(body)}.{claims['uip']}"


async def test_userinfo_answers_the_claims_for_full_and_limited_tokens() -> None:
    config = {"auth": {"providers": {"guest": {"ownershipEntityRefs": ["group:default/Team-A"]}}}}
    async with auth_backend(config) as test:
        token = (await test.client.get("/api/auth/guest/refresh", headers=XHR)).json()[
            "backstageIdentity"
        ]["token"]
        expected = {"claims": {"sub": "user:development/guest", "ent": ["group:default/team-a"]}}
        for sent in (token, _limited(token)):
            response = await test.client.get(
                "/api/auth/v1/userinfo", headers={"Authorization": f"Bearer {sent}"}
            )
            assert response.status_code == 200, response.text
            assert response.json() == expected


@pytest.mark.parametrize(
    ("authorization", "status", "name"),
    [
        (None, 401, "AuthenticationError"),
        ("Basic abc", 401, "AuthenticationError"),
        ("Bearer not-a-token", 401, "AuthenticationError"),
        ("foreign", 401, "AuthenticationError"),
        ("expired", 401, "AuthenticationError"),
        ("tampered", 401, "AuthenticationError"),
        ("service", 400, "InputError"),
    ],
)
async def test_userinfo_refuses(authorization: str | None, status: int, name: str) -> None:
    async with auth_backend() as test:
        token = (await test.client.get("/api/auth/guest/refresh", headers=XHR)).json()[
            "backstageIdentity"
        ]["token"]
        headers = {}
        if authorization == "foreign":
            # signed by a key this auth plugin never published
            foreign = TestUserTokens().token("user:development/guest")
            headers["Authorization"] = f"Bearer {foreign}"
        elif authorization == "expired":
            old = TestUserTokens().token(
                "user:development/guest", issued_at=int(time.time()) - 7200
            )
            headers["Authorization"] = f"Bearer {old}"
        elif authorization == "tampered":
            head, payload, signature = token.split(".")
            headers["Authorization"] = f"Bearer {head}.{payload}.{signature[::-1]}"
        elif authorization == "service":
            headers["Authorization"] = "Bearer " + await _service_token(test)
        elif authorization is not None:
            headers["Authorization"] = authorization
        response = await test.client.get("/api/auth/v1/userinfo", headers=headers)
        assert response.status_code == status, response.text
        assert response.json()["error"]["name"] == name
        if authorization is None:
            assert response.json()["error"]["message"] == "No token provided"


async def _service_token(test: object) -> str:
    from backstage_backend_plugin_api import core_services

    auth = await test.get_service(core_services.auth, "probe")  # type: ignore[attr-defined]
    credentials = await auth.get_own_service_credentials()
    issued = await auth.get_plugin_request_token(on_behalf_of=credentials, target_plugin_id="auth")
    token: str = issued.token
    return token


async def test_userinfo_of_a_user_with_no_recorded_sign_in_is_404_plain_text() -> None:
    from backstage_backend_plugin_api import core_services
    from sqlalchemy import text

    async with auth_backend() as test:
        token = (await test.client.get("/api/auth/guest/refresh", headers=XHR)).json()[
            "backstageIdentity"
        ]["token"]
        database = await test.get_service(core_services.database, "auth")
        async with database.transaction() as connection:
            await connection.execute(text("DELETE FROM user_info"))
        response = await test.client.get(
            "/api/auth/v1/userinfo", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == "User info not found"
