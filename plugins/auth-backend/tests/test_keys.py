"""Signing keys: made per replica, rotated after a token lifetime, published from the
plugin's database for three lifetimes, shared by replicas on one database."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from backstage_backend_test_utils import (
    CapturingLogger,
    InMemoryDatabaseService,
    postgres_database_config,
)
from backstage_plugin_auth_backend import MIGRATIONS
from backstage_plugin_auth_backend._issuer import TokenIssuer
from backstage_plugin_auth_backend._keys import SigningKeys

from ._backends import auth_backend

XHR = {"X-Requested-With": "XMLHttpRequest"}
HOUR = 3600


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _header(token: str) -> dict[str, Any]:
    part = token.split(".")[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return header


async def test_keys_rotate_after_a_lifetime_and_stay_published_for_three() -> None:
    database = InMemoryDatabaseService("auth")
    await database.migrate(MIGRATIONS)
    clock = Clock()
    keys = SigningKeys(
        database, CapturingLogger(), algorithm="ES256", key_duration_seconds=HOUR, clock=clock
    )
    first = await keys.current()
    assert await keys.current() is first
    clock.now += timedelta(seconds=HOUR - 1)
    assert await keys.current() is first
    clock.now += timedelta(seconds=2)
    second = await keys.current()
    assert second.kid != first.kid
    published = [key["kid"] for key in await keys.public_keys()]
    assert sorted(published) == sorted([first.kid, second.kid])
    for key in await keys.public_keys():
        assert "d" not in key  # never the private part
        assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-256", "ES256")
    clock.now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=3 * HOUR + 1)
    assert [key["kid"] for key in await keys.public_keys()] == [second.kid]
    await database.dispose()


async def test_the_token_verifies_with_the_published_key_and_the_uip_makes_a_limited_token() -> (
    None
):
    database = InMemoryDatabaseService("auth")
    await database.migrate(MIGRATIONS)
    keys = SigningKeys(database, CapturingLogger(), algorithm="ES256", key_duration_seconds=HOUR)
    issuer = TokenIssuer(
        keys,
        CapturingLogger(),
        issuer="http://localhost:7007/api/auth",
        expires_in_seconds=HOUR,
        omit_ownership_claim=False,
    )
    token = await issuer.issue("user:default/jöe", ["user:default/jöe", "group:default/a"], {})
    (jwk,) = await keys.public_keys()
    public = jwt.PyJWK(jwk).key
    claims = jwt.decode(token, public, algorithms=["ES256"], audience="backstage")
    assert claims["ent"] == ["user:default/jöe", "group:default/a"]
    # the limited token: header and payload rebuilt exactly, then the uip as signature
    header = {"typ": "vnd.backstage.limited-user", "alg": "ES256", "kid": jwk["kid"]}
    payload = {"sub": claims["sub"], "iat": claims["iat"], "exp": claims["exp"]}

    def b64(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    limited = f"{b64(header)}.{b64(payload)}.{claims['uip']}"
    assert jwt.decode(limited, public, algorithms=["ES256"])["sub"] == "user:default/jöe"
    await database.dispose()


async def test_two_replicas_on_one_database_verify_each_others_tokens() -> None:
    async with postgres_database_config("auth") as database:
        config = {"backend": {"database": database}}
        async with auth_backend(config) as one, auth_backend(config) as two:
            token_one = (await one.client.get("/api/auth/guest/refresh", headers=XHR)).json()[
                "backstageIdentity"
            ]["token"]
            token_two = (await two.client.get("/api/auth/guest/refresh", headers=XHR)).json()[
                "backstageIdentity"
            ]["token"]
            assert _header(token_one)["kid"] != _header(token_two)["kid"]
            for backend in (one, two):
                jwks = (await backend.client.get("/api/auth/.well-known/jwks.json")).json()
                published = {key["kid"] for key in jwks["keys"]}
                assert published == {_header(token_one)["kid"], _header(token_two)["kid"]}
            for backend, token in ((two, token_one), (one, token_two)):
                whoami = await backend.client.get(
                    "/api/probe/whoami", headers={"Authorization": f"Bearer {token}"}
                )
                assert whoami.status_code == 200, whoami.text
                assert whoami.json()["userEntityRef"] == "user:development/guest"
