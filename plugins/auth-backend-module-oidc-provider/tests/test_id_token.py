"""`validate_id_token` on tokens signed here with joserfc: what passes and what does not,
beyond the forgeries the end-to-end tests send through the real IdP."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from backstage_common.errors import AuthenticationError
from backstage_plugin_auth_backend_module_oidc_provider import (
    IdTokenExpectations,
    validate_id_token,
)
from joserfc import jwt
from joserfc.jwk import ECKey, Key, OctKey, RSAKey

NOW = 1_800_000_000
ISSUER = "https://idp.example.com"
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "alg": "RS256"}, private=True)
RSA_2 = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"}, private=True)


def _expect(**overrides: Any) -> IdTokenExpectations:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": "backstage",
        "algorithm": "RS256",
        "nonce": "n-1",
        "access_token": None,
    }
    values.update(overrides)
    return IdTokenExpectations(**values)


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "jane",
        "aud": "backstage",
        "iat": NOW - 10,
        "exp": NOW + 300,
        "nonce": "n-1",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _sign(claims: dict[str, Any], key: Key = RSA, alg: str = "RS256", kid: bool = True) -> str:
    header: dict[str, Any] = {"alg": alg}
    if kid and key.kid:
        header["kid"] = key.kid
    return jwt.encode(header, claims, key, algorithms=[alg])


def _validate(token: str, keys: list[Key] | None = None, **expect: Any) -> dict[str, Any]:
    return validate_id_token(token, keys or [RSA, RSA_2], _expect(**expect), now=NOW)


def test_valid_token() -> None:
    assert _validate(_sign(_claims()))["sub"] == "jane"


def test_key_without_kid_is_found_among_the_keys() -> None:
    assert _validate(_sign(_claims(), kid=False))["sub"] == "jane"
    token = _sign(_claims(), key=RSA_2, kid=False)
    assert _validate(token)["sub"] == "jane"


def test_clock_skew_is_small() -> None:
    assert _validate(_sign(_claims(exp=NOW - 20)))["sub"] == "jane"
    with pytest.raises(AuthenticationError, match="expired"):
        _validate(_sign(_claims(exp=NOW - 40)))
    assert _validate(_sign(_claims(iat=NOW + 20)))["sub"] == "jane"
    with pytest.raises(AuthenticationError, match="future"):
        _validate(_sign(_claims(iat=NOW + 40)))
    with pytest.raises(AuthenticationError, match="not yet valid"):
        _validate(_sign(_claims(nbf=NOW + 120)))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": [ISSUER]}, "issuer"),
        ({"iss": ISSUER + "/"}, "issuer"),
        ({"sub": None}, "subject"),
        ({"sub": ""}, "subject"),
        ({"aud": None}, "audience"),
        ({"aud": ["other"]}, "audience"),
        ({"aud": ["backstage", "other"]}, "azp"),
        ({"aud": ["backstage", "other"], "azp": "other"}, "another party"),
        ({"exp": True}, "exp"),
        ({"exp": "1900000000"}, "exp"),
        ({"iat": None}, "iat"),
        ({"nonce": "N-1"}, "nonce"),
        ({"nonce": 1}, "nonce"),
    ],
)
def test_claims_are_checked(claims: dict[str, Any], message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        _validate(_sign(_claims(**claims)))


def test_several_audiences_with_azp() -> None:
    token = _sign(_claims(aud=["backstage", "other"], azp="backstage"))
    assert _validate(token)["azp"] == "backstage"


def test_refresh_tokens_need_no_nonce() -> None:
    assert _validate(_sign(_claims(nonce=None)), nonce=None)["sub"] == "jane"
    with pytest.raises(AuthenticationError, match="nonce"):
        _validate(_sign(_claims(nonce=None)))


def test_at_hash_binds_the_access_token() -> None:
    digest = hashlib.sha256(b"the-access-token").digest()[:16]
    at_hash = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    token = _sign(_claims(at_hash=at_hash))
    assert _validate(token, access_token="the-access-token")["at_hash"] == at_hash
    with pytest.raises(AuthenticationError, match="at_hash"):
        _validate(token, access_token="another-access-token")


def test_only_the_configured_algorithm() -> None:
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1"}, private=True)
    token = _sign(_claims(), key=ec, alg="ES256")
    with pytest.raises(AuthenticationError, match="'ES256', not 'RS256'"):
        _validate(token, keys=[RSA, ec])
    assert _validate(token, keys=[RSA, ec], algorithm="ES256")["sub"] == "jane"


def test_hs256_with_the_client_secret() -> None:
    secret = OctKey.import_key("a-client-secret-long-enough-for-hs256!!")
    token = _sign(_claims(), key=secret, alg="HS256", kid=False)
    assert _validate(token, keys=[secret], algorithm="HS256")["sub"] == "jane"
    # An RS256 verifier never accepts an HMAC made with a public key or a secret.
    with pytest.raises(AuthenticationError, match="'HS256', not 'RS256'"):
        _validate(token)


@pytest.mark.parametrize("token", ["", "a.b", "not-a-jwt", "a.b.c", "€.€.€"])
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(AuthenticationError, match="ID token was refused"):
        _validate(token)
