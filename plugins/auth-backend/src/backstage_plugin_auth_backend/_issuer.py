"""Backstage user tokens (`typ: vnd.backstage.user`), with the `uip` limited-token proof.

Claims in Backstage's order: the resolver's extra claims, `iss` (the auth plugin's
external URL), `sub`, `ent` (the ownership refs; left out with
`auth.omitIdentityTokenOwnershipClaim: true`), `aud: backstage`, `iat`, `exp`, `uip`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from backstage_backend_plugin_api import LoggerService
from backstage_common.catalog_model import parse_entity_ref

from backstage_plugin_auth_backend._jws import sign_compact
from backstage_plugin_auth_backend._keys import SigningKeys

__all__ = ["TokenIssuer", "TokenTooLargeError"]

USER_TOKEN_TYPE = "vnd.backstage.user"
LIMITED_USER_TOKEN_TYPE = "vnd.backstage.limited-user"
AUDIENCE = "backstage"
MAX_TOKEN_LENGTH = 32768


class TokenTooLargeError(Exception):
    """The claims make a token longer than Backstage accepts."""


class TokenIssuer:
    """Signs user tokens with this replica's current key."""

    def __init__(
        self,
        keys: SigningKeys,
        logger: LoggerService,
        *,
        issuer: str,
        expires_in_seconds: int,
        omit_ownership_claim: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._logger = logger
        self._issuer = issuer
        self._expires_in = expires_in_seconds
        self._omit_ent = omit_ownership_claim
        self._clock = clock

    @property
    def expires_in_seconds(self) -> int:
        return self._expires_in

    async def issue(self, sub: str, ent: Sequence[str], extra: Mapping[str, Any]) -> str:
        """A signed token for `sub`; refs are expected canonical already."""
        try:
            parse_entity_ref(sub)
        except Exception as error:
            raise ValueError(
                '"sub" claim provided by the auth resolver is not a valid EntityRef.'
            ) from error
        key = await self._keys.current()
        iat = int(self._clock())
        exp = iat + self._expires_in
        _, uip = sign_compact(
            {"typ": LIMITED_USER_TOKEN_TYPE, "alg": key.algorithm, "kid": key.kid},
            {"sub": sub, "iat": iat, "exp": exp},
            key.private_key,
        )
        reserved = {"iss", "sub", "ent", "aud", "iat", "exp", "uip"}
        claims: dict[str, Any] = {k: v for k, v in extra.items() if k not in reserved}
        claims.update(iss=self._issuer, sub=sub)
        if not self._omit_ent:
            claims["ent"] = list(ent)
        claims.update(aud=AUDIENCE, iat=iat, exp=exp, uip=uip)
        self._logger.info(f"Issuing token for {sub}, with entities {','.join(ent)}")
        token, _ = sign_compact(
            {"typ": USER_TOKEN_TYPE, "alg": key.algorithm, "kid": key.kid},
            claims,
            key.private_key,
        )
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenTooLargeError(
                "Failed to issue a new user token. The resulting token is excessively large, "
                "with either too many ownership claims or too large custom claims."
            )
        return token
