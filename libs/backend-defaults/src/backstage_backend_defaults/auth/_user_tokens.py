"""User tokens, issued by the auth backend (plugin `auth`) and verified with its keys.

Three shapes, as in Backstage: full user tokens (`typ: vnd.backstage.user`), limited user
tokens (`typ: vnd.backstage.limited-user`, only `sub`, `iat`, `exp`), and legacy ones
without a `typ` but with `aud: backstage`. The keys come from
`<discovery 'auth'>/.well-known/jwks.json`. A limited token is cut from a full one: the
auth backend signs the limited form in advance and puts that signature in the `uip`
claim, so no other key is needed to make it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import jwt
from backstage_backend_plugin_api import DiscoveryService, LimitedUserToken, LoggerService
from backstage_common.errors import AuthenticationError
from jwt.types import Options

from backstage_backend_defaults.auth._claims import check_claims
from backstage_backend_defaults.auth._jwks import RemoteKeySet

__all__ = [
    "LIMITED_USER_TOKEN_TYPE",
    "USER_JWKS_PATH",
    "USER_TOKEN_TYPE",
    "UserTokenHandler",
    "VerifiedUserToken",
]

USER_TOKEN_TYPE = "vnd.backstage.user"
LIMITED_USER_TOKEN_TYPE = "vnd.backstage.limited-user"
USER_AUDIENCE = "backstage"
USER_JWKS_PATH = "/.well-known/jwks.json"
_AUTH_PLUGIN = "auth"

TokenKind = Literal["user", "limited", "legacy"]


@dataclass(frozen=True)
class VerifiedUserToken:
    user_entity_ref: str
    expires_at: datetime
    limited: bool


def _b64_json(data: dict[str, Any]) -> str:
    # the exact bytes the auth backend signed: compact JSON, keys in this order
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _token_kind(token: str) -> TokenKind | None:
    try:
        typ = jwt.get_unverified_header(token).get("typ")
        if typ == USER_TOKEN_TYPE:
            return "user"
        if typ == LIMITED_USER_TOKEN_TYPE:
            return "limited"
        if typ not in (None, "JWT"):  # a token of some other type is never a legacy one
            return None
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return "legacy" if claims.get("aud") == USER_AUDIENCE else None


class UserTokenHandler:
    """Verifies user tokens and makes limited user tokens out of full ones."""

    def __init__(
        self,
        discovery: DiscoveryService,
        http: Callable[[], httpx.AsyncClient],
        logger: LoggerService,
        *,
        algorithm: str,
        max_lifetime: timedelta,
    ) -> None:
        async def base_url() -> str:
            return await discovery.get_base_url(_AUTH_PLUGIN)

        self._algorithm = algorithm
        self._max_lifetime = max_lifetime
        self._logger = logger
        self._keys = RemoteKeySet(
            _AUTH_PLUGIN,
            base_url,
            USER_JWKS_PATH,
            http,
            logger,
            algorithm=algorithm,
            missing_message="User tokens cannot be verified: the auth backend publishes no "
            f"keys at {USER_JWKS_PATH}",
        )

    @staticmethod
    def is_user_token(token: str) -> bool:
        return _token_kind(token) is not None

    async def verify_token(self, token: str) -> VerifiedUserToken | None:
        """None when the token is not a user token; AuthenticationError when it is one
        that does not verify."""
        kind = _token_kind(token)
        if kind is None:
            return None
        header = jwt.get_unverified_header(token)
        if header.get("alg") != self._algorithm:
            raise AuthenticationError("Invalid user token: unexpected signing algorithm")
        kid = header.get("kid")
        key = await self._keys.key(kid) if isinstance(kid, str) and kid else None
        if key is None:
            raise AuthenticationError("Failed user token verification")
        # `iat` is checked below, allowing for clock skew between hosts
        options: Options = {"require": ["iat", "exp", "sub"], "verify_iat": False}
        try:
            if kind == "legacy":
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[self._algorithm],
                    audience=USER_AUDIENCE,
                    options=options,
                )
            else:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[self._algorithm],
                    options={**options, "verify_aud": False},
                )
        except jwt.PyJWTError as error:
            # a mapping, not the exception: counted when repeated (a flood of bad tokens
            # is one line and a count), and no stack for a refused token
            self._logger.warn(
                "Failed to verify incoming user token",
                {"error": {"name": type(error).__name__, "message": str(error)}},
            )
            raise AuthenticationError("Failed user token verification") from None
        check_claims(
            claims,
            kind="user",
            max_lifetime=self._max_lifetime,
            strings=("aud", "iss", "uip"),
            string_lists=("ent",),
        )
        return VerifiedUserToken(
            claims["sub"], datetime.fromtimestamp(claims["exp"], UTC), limited=kind == "limited"
        )

    @staticmethod
    def create_limited_user_token(token: str) -> LimitedUserToken:
        """The limited form of a (verified) full user token; other tokens are returned as
        they are, as Backstage does when no limited form can be made."""
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthenticationError("Failed to create limited user token") from None
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise AuthenticationError("User token is missing expiration")
        expires_at = datetime.fromtimestamp(exp, UTC)
        typ = header.get("typ")
        uip = claims.get("uip")
        if typ is None or typ == LIMITED_USER_TOKEN_TYPE or not isinstance(uip, str):
            return LimitedUserToken(token, expires_at)
        if typ != USER_TOKEN_TYPE:
            raise AuthenticationError("Failed to create limited user token, invalid token type")
        limited_header = {"typ": LIMITED_USER_TOKEN_TYPE, "alg": header.get("alg")}
        if "kid" in header:
            limited_header["kid"] = header["kid"]
        payload = {"sub": claims.get("sub"), "iat": claims.get("iat"), "exp": exp}
        return LimitedUserToken(
            f"{_b64_json(limited_header)}.{_b64_json(payload)}.{uip}", expires_at
        )
