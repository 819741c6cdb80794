"""core.auth and core.httpAuth: credentials from static external-access tokens.

Plugin-to-plugin tokens (signed by each plugin's key pair) and user tokens need the
plugin key store; until it exists, `get_plugin_request_token` and user cookies answer
with a 501 NotImplementedError that says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from backstage_backend_plugin_api import (
    AuthService,
    BackstageCredentials,
    BackstageNonePrincipal,
    BackstagePrincipal,
    BackstageServicePrincipal,
    BackstageUserPrincipal,
    LimitedUserToken,
    PluginRequestToken,
    PrincipalType,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import (
    AuthenticationError,
    NotAllowedError,
    NotImplementedError,
)
from litestar.connection import ASGIConnection
from litestar.response import Response

from backstage_backend_defaults.auth._external_access import (
    StaticAccessEntry,
    read_external_access,
)

__all__ = [
    "DefaultAuthService",
    "DefaultHttpAuthService",
    "auth_service_factory",
    "bearer_token",
    "check_principal_allowed",
    "http_auth_service_factory",
]

_BEARER = re.compile(rb"^Bearer[ ]+(\S+)$", re.IGNORECASE)


def bearer_token(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, read from the raw headers."""
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            match = _BEARER.match(value)
            return match.group(1).decode("latin-1") if match else None
    return None


_NO_KEY_STORE = (
    "Plugin and user tokens need the plugin key store, which this backend does not provide yet"
)


def check_principal_allowed(
    credentials: BackstageCredentials[BackstagePrincipal], allow: Sequence[PrincipalType] | None
) -> BackstageCredentials[BackstagePrincipal]:
    """401 for missing credentials, 403 for a principal type the endpoint does not allow."""
    kind = credentials.principal.type
    if allow is not None and kind not in allow:
        if kind == "none":
            raise AuthenticationError("Missing credentials")
        raise NotAllowedError(f"This endpoint does not allow '{kind}' credentials")
    return credentials


class DefaultAuthService:
    def __init__(
        self, plugin_id: str, entries: Sequence[StaticAccessEntry], *, policy_disabled: bool
    ) -> None:
        self._plugin_id = plugin_id
        self._entries = [
            (
                entry,
                BackstageCredentials(BackstageServicePrincipal(entry.subject), token=entry.token),
            )
            for entry in entries
        ]
        self._policy_disabled = policy_disabled

    async def authenticate(
        self, token: str, *, allow_limited_access: bool = False
    ) -> BackstageCredentials[BackstagePrincipal]:
        for entry, credentials in self._entries:
            if entry.matches(token):
                if entry.plugins is not None and self._plugin_id not in entry.plugins:
                    allowed = ", ".join(f"'{plugin}'" for plugin in entry.plugins)
                    raise NotAllowedError(
                        f"This token's access is restricted to plugin(s) {allowed}"
                    )
                return credentials
        raise AuthenticationError("Illegal token")

    def is_static_token_allowed(self, token: str) -> bool:
        """A configured static token that may call this plugin."""
        for entry, _ in self._entries:
            if entry.matches(token):
                return entry.plugins is None or self._plugin_id in entry.plugins
        return False

    async def get_none_credentials(self) -> BackstageCredentials[BackstageNonePrincipal]:
        return BackstageCredentials(BackstageNonePrincipal())

    async def get_own_service_credentials(
        self,
    ) -> BackstageCredentials[BackstageServicePrincipal]:
        return BackstageCredentials(BackstageServicePrincipal(f"plugin:{self._plugin_id}"))

    async def get_plugin_request_token(
        self, *, on_behalf_of: BackstageCredentials[Any], target_plugin_id: str
    ) -> PluginRequestToken:
        if isinstance(on_behalf_of.principal, BackstageNonePrincipal) and self._policy_disabled:
            return PluginRequestToken("")
        raise NotImplementedError(_NO_KEY_STORE)

    async def get_limited_user_token(
        self, credentials: BackstageCredentials[BackstageUserPrincipal]
    ) -> LimitedUserToken:
        raise NotImplementedError(_NO_KEY_STORE)

    async def list_public_service_keys(self) -> dict[str, Any]:
        return {"keys": []}


class DefaultHttpAuthService:
    def __init__(self, auth: AuthService) -> None:
        self._auth = auth

    def allows_static_token(self, scope: Any) -> bool:
        """True when the request carries a static token valid for this plugin: the common
        case of the default auth policy, answered without a coroutine. False sends the
        request down the full `credentials` path, which also produces the error."""
        auth = self._auth
        if not isinstance(auth, DefaultAuthService):
            return False
        for name, value in scope["headers"]:
            if name == b"authorization":
                match = _BEARER.match(value)
                return match is not None and auth.is_static_token_allowed(
                    match.group(1).decode("latin-1")
                )
        return False

    async def credentials(
        self,
        request: ASGIConnection[Any, Any, Any, Any],
        *,
        allow: Sequence[PrincipalType] | None = None,
        allow_limited_access: bool = False,
    ) -> BackstageCredentials[BackstagePrincipal]:
        token = bearer_token(request)
        credentials: BackstageCredentials[BackstagePrincipal]
        if token is None:
            credentials = await self._auth.get_none_credentials()
        else:
            credentials = await self._auth.authenticate(
                token, allow_limited_access=allow_limited_access
            )
        return check_principal_allowed(credentials, allow)

    async def issue_user_cookie(
        self,
        response: Response[Any],
        *,
        credentials: BackstageCredentials[BackstageUserPrincipal] | None = None,
    ) -> datetime:
        raise NotImplementedError(_NO_KEY_STORE)


def _create_auth(config: core.RootConfig, metadata: core.PluginMetadata) -> DefaultAuthService:
    return DefaultAuthService(
        metadata.get_id(),
        read_external_access(config),
        policy_disabled=bool(
            config.get_optional_boolean("backend.auth.dangerouslyDisableDefaultAuthPolicy")
        ),
    )


def _create_http_auth(auth: core.Auth) -> DefaultHttpAuthService:
    return DefaultHttpAuthService(auth)


auth_service_factory = create_service_factory(service=core.auth, factory=_create_auth)
http_auth_service_factory = create_service_factory(
    service=core.http_auth, factory=_create_http_auth
)
