"""Plugin-to-plugin tokens, as Backstage's: ES256 JWTs of type `vnd.backstage.plugin`.

Claims: `sub` = the calling plugin, `aud` = the target plugin, `iat`, `exp` (an hour later),
and `obo` when the call is made on behalf of a user. Incoming tokens must have exactly these
types and live at most an hour. The target verifies the signature
with the caller's public keys, found through discovery; tokens signed with any other
algorithm (`none` included) are refused before any key is looked up.
"""

from __future__ import annotations

import base64
import json
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from backstage_backend_plugin_api import DiscoveryService, LoggerService
from backstage_common.errors import AuthenticationError

from backstage_backend_defaults.auth._claims import check_claims
from backstage_backend_defaults.auth._jwks import JWKS_PATH, RemoteKeySet
from backstage_backend_defaults.auth._key_source import SIGNING_ALGORITHM, PluginKeySource

__all__ = ["PLUGIN_TOKEN_TYPE", "TOKEN_LIFETIME", "PluginTokenHandler", "VerifiedPluginToken"]

PLUGIN_TOKEN_TYPE = "vnd.backstage.plugin"
TOKEN_LIFETIME = timedelta(hours=1)
_PLUGIN_ID = re.compile(r"^[a-z0-9_-]+$", re.IGNORECASE)
_MAX_ISSUERS = 256
_REQUIRED_CLAIMS = ["iat", "exp", "sub", "aud"]


@dataclass(frozen=True)
class VerifiedPluginToken:
    subject: str
    """`plugin:<callerId>`."""
    on_behalf_of: str | None
    """The limited user token of the `obo` claim, if any."""


def _header(token: str) -> dict[str, Any] | None:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None


def _unverified_subject(token: str) -> str:
    """The claimed issuer, read (not trusted) to know whose keys to check the token with."""
    try:
        payload = base64.urlsafe_b64decode(token.split(".")[1] + "==")
        subject = json.loads(payload).get("sub")
    except (ValueError, IndexError, AttributeError):
        raise AuthenticationError("Invalid plugin token: malformed payload") from None
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError("Invalid plugin token: missing subject")
    if not _PLUGIN_ID.match(subject):
        raise AuthenticationError("Invalid plugin token: forbidden subject format")
    return subject


class PluginTokenHandler:
    """Issues this plugin's tokens and verifies tokens other plugins send it."""

    def __init__(
        self,
        plugin_id: str,
        keys: PluginKeySource,
        discovery: DiscoveryService,
        http: Callable[[], httpx.AsyncClient],
        logger: LoggerService,
    ) -> None:
        self._plugin_id = plugin_id
        self._keys = keys
        self._discovery = discovery
        self._http = http
        self._logger = logger
        self._issuers: OrderedDict[str, RemoteKeySet] = OrderedDict()

    async def issue_token(
        self,
        target_plugin_id: str,
        *,
        on_behalf_of: tuple[str, datetime] | None = None,
        issued_at: datetime | None = None,
    ) -> str:
        """A token for one call to `target_plugin_id`; `on_behalf_of` is a limited user
        token and its expiry, which caps the token's own."""
        key = await self._keys.signing_key()
        iat = int((issued_at or datetime.now(UTC)).timestamp())
        exp = iat + int(TOKEN_LIFETIME.total_seconds())
        claims: dict[str, Any] = {"sub": self._plugin_id, "aud": target_plugin_id, "iat": iat}
        if on_behalf_of is not None:
            claims["obo"] = on_behalf_of[0]
            exp = min(exp, int(on_behalf_of[1].timestamp()))
        claims["exp"] = exp
        return jwt.encode(
            claims,
            key.private_key,
            algorithm=SIGNING_ALGORITHM,
            headers={"typ": PLUGIN_TOKEN_TYPE, "kid": key.kid},
        )

    async def list_public_keys(self) -> list[dict[str, Any]]:
        return await self._keys.list_public_keys()

    async def verify_token(self, token: str) -> VerifiedPluginToken | None:
        """None when the token is not a plugin token; AuthenticationError when it is one
        that does not verify."""
        header = _header(token)
        if header is None or header.get("typ") != PLUGIN_TOKEN_TYPE:
            return None
        if header.get("alg") != SIGNING_ALGORITHM:
            raise AuthenticationError("Invalid plugin token: unexpected signing algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("Invalid plugin token: missing key id")
        key = await self._issuer_keys(_unverified_subject(token)).key(kid)
        if key is None:
            raise AuthenticationError("Failed plugin token verification")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[SIGNING_ALGORITHM],
                audience=self._plugin_id,
                # `iat` is checked below, allowing for clock skew between hosts
                options={"require": _REQUIRED_CLAIMS, "verify_iat": False},
            )
        except jwt.PyJWTError as error:
            # a mapping, not the exception: counted when repeated (a flood of bad tokens
            # is one line and a count), and no stack for a refused token
            self._logger.warn(
                "Failed to verify incoming plugin token",
                {"error": {"name": type(error).__name__, "message": str(error)}},
            )
            raise AuthenticationError("Failed plugin token verification") from None
        check_claims(claims, kind="plugin", max_lifetime=TOKEN_LIFETIME, strings=("aud", "obo"))
        return VerifiedPluginToken(f"plugin:{claims['sub']}", claims.get("obo"))

    def _issuer_keys(self, issuer: str) -> RemoteKeySet:
        keys = self._issuers.get(issuer)
        if keys is not None:
            self._issuers.move_to_end(issuer)
            return keys

        async def base_url() -> str:
            return await self._discovery.get_base_url(issuer)

        keys = RemoteKeySet(
            issuer,
            base_url,
            JWKS_PATH,
            self._http,
            self._logger,
            algorithm=SIGNING_ALGORITHM,
            missing_message=f"Received a plugin token where the source '{issuer}' plugin "
            "unexpectedly does not have a JWKS endpoint",
        )
        self._issuers[issuer] = keys
        if len(self._issuers) > _MAX_ISSUERS:  # bounded: subjects come from callers
            self._issuers.popitem(last=False)
        return keys
