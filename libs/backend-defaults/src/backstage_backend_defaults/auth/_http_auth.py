"""`DefaultHttpAuthService`: the credentials of an HTTP request, read once per request."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from backstage_backend_plugin_api import (
    AuthService,
    BackstageCredentials,
    BackstageNonePrincipal,
    BackstagePrincipal,
    BackstageUserPrincipal,
    DiscoveryService,
    PrincipalType,
)
from backstage_common.errors import AuthenticationError
from litestar.connection import ASGIConnection
from litestar.response import Response

from backstage_backend_defaults.auth._service import DefaultAuthService, check_principal_allowed

__all__ = ["AUTH_COOKIE", "DefaultHttpAuthService", "bearer_token"]

AUTH_COOKIE = "backstage-auth"
_BEARER = re.compile(rb"^Bearer[ ]+(\S+)$", re.IGNORECASE)
_STATE_KEY = "backstage.credentials"
_STATIC_PASSES_KEPT = 64


def bearer_token(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, read from the raw headers."""
    return _bearer_from_scope(request.scope)


def _bearer_from_scope(scope: Any) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            match = _BEARER.match(value)
            return match.group(1).decode("latin-1") if match else None
    return None


class DefaultHttpAuthService:
    """`core.httpAuth` of one plugin, on top of its `core.auth`."""

    def __init__(self, auth: AuthService, discovery: DiscoveryService, plugin_id: str) -> None:
        self._auth = auth
        self._discovery = discovery
        self._plugin_id = plugin_id
        self._static_auth = auth if isinstance(auth, DefaultAuthService) else None
        self._static_passes: set[bytes] = set()
        """`Authorization` headers already found to carry a static token valid here: the
        constant-time compare runs once per header, not once per request. Only headers that
        matched enter it, so a lookup tells a caller nothing about a token it does not hold
        (the hash is keyed per process)."""

    @property
    def static_passes(self) -> set[bytes]:
        """The `Authorization` headers `allows_static_token` found valid (the same set for
        the service's life): a header in it passes without a call; one not in it may still
        be valid, so ask `allows_static_token`."""
        return self._static_passes

    def allows_static_token(self, scope: Any) -> bool:
        """True when the request carries a static token valid for this plugin: the common
        case of the default auth policy, answered without a coroutine. False sends the
        request down the full `credentials` path, which also produces the error."""
        auth = self._static_auth
        if auth is None:
            return False
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        if header is None:
            return False
        if header in self._static_passes:
            return True
        match = _BEARER.match(header)
        if match is None or not auth.is_static_token_allowed(match.group(1).decode("latin-1")):
            return False
        if len(self._static_passes) >= _STATIC_PASSES_KEPT:  # spellings of "Bearer <token>"
            self._static_passes.clear()
        self._static_passes.add(header)
        return True

    async def _read(
        self, request: ASGIConnection[Any, Any, Any, Any], allow_limited_access: bool
    ) -> BackstageCredentials[BackstagePrincipal]:
        token = bearer_token(request)
        if token is None and allow_limited_access:
            token = request.cookies.get(AUTH_COOKIE) or None
        if token is None:
            return await self._auth.get_none_credentials()
        return await self._auth.authenticate(token, allow_limited_access=allow_limited_access)

    async def credentials(
        self,
        request: ASGIConnection[Any, Any, Any, Any],
        *,
        allow: Sequence[PrincipalType] | None = None,
        allow_limited_access: bool = False,
    ) -> BackstageCredentials[BackstagePrincipal]:
        # cached in the request's scope: the auth policy and the route share one check
        state: dict[str, Any] = request.scope.setdefault("state", {})
        key = f"{_STATE_KEY}.{'limited' if allow_limited_access else 'full'}"
        credentials: BackstageCredentials[BackstagePrincipal] | None = state.get(key)
        if credentials is None:
            credentials = await self._read(request, allow_limited_access)
            state[key] = credentials
        return check_principal_allowed(credentials, allow)

    async def issue_user_cookie(
        self,
        response: Response[Any],
        *,
        credentials: BackstageCredentials[BackstageUserPrincipal] | None = None,
    ) -> datetime:
        """Set the `backstage-auth` cookie to the user's limited token, expiring with it;
        `none` credentials clear it. The cookie is for the host of the plugin's external
        URL, `HttpOnly`, and `Secure` (with `SameSite=none`) on https or localhost."""
        options = await self._cookie_options()
        if credentials is None:
            raise AuthenticationError("Refused to issue cookie without user credentials")
        principal: object = credentials.principal
        if isinstance(principal, BackstageNonePrincipal):
            response.delete_cookie(AUTH_COOKIE, domain=options["domain"])
            return datetime.now(UTC)
        if not isinstance(principal, BackstageUserPrincipal):
            raise AuthenticationError("Refused to issue cookie for non-user principal")
        limited = await self._auth.get_limited_user_token(credentials)
        remaining = int((limited.expires_at - datetime.now(UTC)).total_seconds())
        response.set_cookie(
            AUTH_COOKIE,
            limited.token,
            expires=max(remaining, 0),
            httponly=True,
            **options,
        )
        return limited.expires_at

    async def _cookie_options(self) -> dict[str, Any]:
        external = urlsplit(await self._discovery.get_external_base_url(self._plugin_id))
        secure = external.scheme == "https" or external.hostname == "localhost"
        return {
            "domain": external.hostname,
            "secure": secure,
            "samesite": "none" if secure else "lax",
        }
