"""`backstageIdentity` of a sign-in response, read from the issued token."""

from __future__ import annotations

import base64
import binascii
import time

import msgspec
from backstage_common.errors import InputError

from backstage_plugin_auth_node._types import (
    BackstageIdentityResponse,
    BackstageSignInResult,
    BackstageUserIdentity,
)

__all__ = ["prepare_backstage_identity_response"]


def _payload(token: str) -> dict[str, object]:
    parts = token.split(".")
    if len(parts) != 3:
        raise InputError("Identity response must return a token")
    body = parts[1]
    try:
        payload = msgspec.json.decode(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (msgspec.DecodeError, ValueError, binascii.Error) as error:
        raise InputError("Identity response must return a token", error) from error
    if not isinstance(payload, dict):
        raise InputError("Identity response must return a token")
    return payload


def prepare_backstage_identity_response(result: BackstageSignInResult) -> BackstageIdentityResponse:
    """The token with its identity and remaining lifetime, as Backstage answers it.

    Args:
        result: what a sign-in resolver returned; without an identity it is read from
            the token's `sub` and `ent` claims.
    """
    if not result.token:
        raise InputError("Identity response must return a token")
    payload = _payload(result.token)
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InputError("Identity response must return a token with subject claim")
    exp = payload.get("exp")
    expires_in = round(exp - time.time()) if isinstance(exp, int | float) and exp else None
    if expires_in is not None and expires_in < 0:
        raise InputError("Identity response must not return an expired token")
    ent = payload.get("ent")
    identity = result.identity or BackstageUserIdentity(
        user_entity_ref=sub,
        ownership_entity_refs=[ref for ref in ent if isinstance(ref, str)]
        if isinstance(ent, list)
        else [],
    )
    return BackstageIdentityResponse(
        token=result.token, identity=identity, expires_in_seconds=expires_in
    )
