"""ID token validation, as OpenID Connect Core 3.1.3.7 asks of a client.

The signature is checked by joserfc against the identity provider's JWKS (or the client
secret for HS* algorithms), with the one algorithm the environment is configured for; then
`iss` (exactly the discovery document's issuer), `aud` (contains the client; with several
audiences `azp` must be the client), `exp` and `iat` (30 s of clock skew), `sub`, the
`nonce` sent with the authorize request, and `at_hash` when the token carries one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any, Final

from backstage_common.errors import AuthenticationError
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, JoseError
from joserfc.jwk import Key
from joserfc.jws import extract_compact

__all__ = ["CLOCK_SKEW_SECONDS", "IdTokenExpectations", "token_header", "validate_id_token"]

CLOCK_SKEW_SECONDS: Final = 30
_KEY_TYPES: Final = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP", "HS": "oct"}
_HASHES: Final = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


class IdTokenExpectations:
    """What a valid ID token must say.

    Args:
        issuer: the discovery document's `issuer`.
        client_id: the client, which must be an audience.
        algorithm: the one accepted signing algorithm (`tokenSignedResponseAlg`).
        nonce: the nonce sent with the authorize request; None on a refresh, where the
            token need not carry one.
        access_token: the access token issued with it, checked against `at_hash`.
    """

    __slots__ = ("access_token", "algorithm", "client_id", "issuer", "nonce")

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        algorithm: str,
        nonce: str | None,
        access_token: str | None,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.algorithm = algorithm
        self.nonce = nonce
        self.access_token = access_token


def _refused(reason: str) -> AuthenticationError:
    return AuthenticationError(f"The ID token was refused: {reason}")


def token_header(id_token: str) -> dict[str, Any]:
    """The token's JOSE header, read before anything is verified (to pick the key)."""
    try:
        return dict(extract_compact(id_token.encode("ascii")).headers())
    except (JoseError, ValueError, UnicodeError):
        raise _refused("it is not a signed JWT") from None


def _candidate_keys(keys: Sequence[Key], header: dict[str, Any], algorithm: str) -> list[Key]:
    """Keys that may have signed the token: the one with its `kid`, or, without a `kid`,
    every key of the algorithm's type (some IdPs publish keys without ids)."""
    key_type = _KEY_TYPES.get(algorithm[:2])
    kid = header.get("kid")
    return [
        key
        for key in keys
        if key.key_type == key_type
        and (kid is None or key.kid == kid)
        and key.get("alg") in (None, algorithm)
    ]


def _verified_claims(id_token: str, keys: Sequence[Key], algorithm: str) -> dict[str, Any]:
    header = token_header(id_token)
    if header.get("alg") != algorithm:
        raise _refused(f"it is signed with '{header.get('alg')}', not '{algorithm}'")
    for key in _candidate_keys(keys, header, algorithm):
        try:
            token = jwt.decode(id_token, key, algorithms=[algorithm])
        except BadSignatureError:
            continue
        except JoseError:
            raise _refused("it is not a valid JWT") from None
        if not isinstance(token.claims, dict):
            raise _refused("its payload is not a JSON object")
        return dict(token.claims)
    raise _refused("its signature does not verify with the identity provider's keys")


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_time(claims: dict[str, Any], now: float) -> None:
    for name in ("exp", "iat"):
        if not _is_time(claims.get(name)):
            raise _refused(f"'{name}' is missing or not a number")
    registry = jwt.JWTClaimsRegistry(now=int(now), leeway=CLOCK_SKEW_SECONDS)
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise _refused("it has expired") from None
    except JoseError as error:
        raise _refused(str(error.description or error.error)) from None


def _check_audience(claims: dict[str, Any], client_id: str) -> None:
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise _refused("this client is not its audience")
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise _refused("it has several audiences and no 'azp'")
    if azp is not None and azp != client_id:
        raise _refused("it was issued to another party ('azp')")


def _half_hash(value: str, algorithm: str) -> str:
    # OpenID Connect Core 3.1.3.6: the hash of the JWS algorithm; Ed25519 signs with SHA-512.
    hash_function = (
        hashlib.sha512
        if algorithm in ("EdDSA", "Ed25519")
        else _HASHES.get(algorithm[-3:], hashlib.sha256)
    )
    digest = hash_function(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _check_binding(claims: dict[str, Any], expected: IdTokenExpectations) -> None:
    if expected.nonce is not None:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(
            nonce.encode(), expected.nonce.encode()
        ):
            raise _refused("its nonce is not the one sent with the sign-in request")
    at_hash = claims.get("at_hash")
    if at_hash is not None and expected.access_token is not None:
        computed = _half_hash(expected.access_token, expected.algorithm)
        if not isinstance(at_hash, str) or not hmac.compare_digest(at_hash, computed):
            raise _refused("its 'at_hash' does not match the access token")


def validate_id_token(
    id_token: str,
    keys: Sequence[Key],
    expected: IdTokenExpectations,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify an ID token's signature and claims; its claims, or `AuthenticationError`.

    Args:
        id_token: the token, JWS compact serialisation.
        keys: the keys it may be signed with (the IdP's JWKS, or the client secret as an
            `OctKey` for HS* algorithms).
        expected: what the token must say.
        now: the current time (seconds since the epoch), for tests.
    """
    claims = _verified_claims(id_token, keys, expected.algorithm)
    if claims.get("iss") != expected.issuer:
        raise _refused("its issuer is not the identity provider's")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise _refused("it has no subject")
    _check_audience(claims, expected.client_id)
    _check_time(claims, time.time() if now is None else now)
    _check_binding(claims, expected)
    return claims
