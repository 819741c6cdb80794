"""Mock `core.auth` and `core.httpAuth`: the mock token grammar, no cryptography."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from backstage_backend_defaults.auth import check_principal_allowed
from backstage_backend_plugin_api import (
    AuthService,
    BackstageCredentials,
    BackstageNonePrincipal,
    BackstagePrincipal,
    BackstageServicePrincipal,
    BackstageUserPrincipal,
    HttpAuthService,
    LimitedUserToken,
    PluginRequestToken,
    PrincipalType,
    ServiceFactory,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import AuthenticationError
from litestar.connection import ASGIConnection
from litestar.response import Response

from backstage_backend_test_utils._credentials import (
    MOCK_AUTH_COOKIE,
    MOCK_LIMITED_USER_TOKEN_PREFIX,
    MOCK_NONE_TOKEN,
    MOCK_SERVICE_TOKEN,
    MOCK_SERVICE_TOKEN_PREFIX,
    MOCK_USER_TOKEN,
    MOCK_USER_TOKEN_PREFIX,
    mock_credentials,
)

__all__ = [
    "MockAuthService",
    "MockHttpAuthService",
    "mock_auth_factory",
    "mock_http_auth_factory",
]

_BEARER = re.compile(r"^Bearer[ ]+(\S+)$", re.IGNORECASE)
_TOKEN_LIFETIME = timedelta(hours=1)


def _payload(token: str, prefix: str) -> dict[str, Any]:
    try:
        payload = json.loads(token[len(prefix) :])
    except ValueError:
        raise AuthenticationError("Illegal token") from None
    if not isinstance(payload, dict):
        raise AuthenticationError("Illegal token")
    return payload


def _optional_str(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None or isinstance(value, str):
        return value
    raise AuthenticationError("Illegal token")


def _user(ref: str | None, actor: str | None = None) -> BackstageCredentials[BackstagePrincipal]:
    try:
        if ref is None:
            return mock_credentials.user(actor=actor)
        return mock_credentials.user(ref, actor=actor)
    except ValueError:
        raise AuthenticationError("Illegal token") from None


class MockAuthService:
    """`core.auth` for tests: accepts mock tokens only, as Backstage's `MockAuthService`.

    `mock-invalid-*` tokens and any other token raise `AuthenticationError('Illegal token')`,
    like the default auth service does for a token it does not know.
    """

    def __init__(
        self, plugin_id: str = "test", *, disable_default_auth_policy: bool = False
    ) -> None:
        self.plugin_id = plugin_id
        self.disable_default_auth_policy = disable_default_auth_policy

    async def authenticate(
        self, token: str, *, allow_limited_access: bool = False
    ) -> BackstageCredentials[BackstagePrincipal]:
        if token == MOCK_USER_TOKEN:
            return _user(None)
        if token == MOCK_SERVICE_TOKEN:
            return mock_credentials.service()
        if token.startswith(MOCK_USER_TOKEN_PREFIX):
            payload = _payload(token, MOCK_USER_TOKEN_PREFIX)
            actor = payload.get("actor")
            subject = actor.get("subject") if isinstance(actor, dict) else None
            return _user(
                _optional_str(payload, "sub"), subject if isinstance(subject, str) else None
            )
        if token.startswith(MOCK_LIMITED_USER_TOKEN_PREFIX):
            if not allow_limited_access:
                raise AuthenticationError("Illegal limited user token")
            return _user(_optional_str(_payload(token, MOCK_LIMITED_USER_TOKEN_PREFIX), "sub"))
        if token.startswith(MOCK_SERVICE_TOKEN_PREFIX):
            return self._service_token(_payload(token, MOCK_SERVICE_TOKEN_PREFIX))
        raise AuthenticationError("Illegal token")

    def _service_token(self, payload: dict[str, Any]) -> BackstageCredentials[BackstagePrincipal]:
        target = _optional_str(payload, "target")
        if target is not None and target != self.plugin_id:
            raise AuthenticationError(
                f"Invalid mock token target plugin ID, got '{target}' but expected "
                f"'{self.plugin_id}'"
            )
        sub = _optional_str(payload, "sub")
        obo = _optional_str(payload, "obo")
        if obo is not None:
            return _user(obo, sub)
        if sub is None:
            return mock_credentials.service()
        return mock_credentials.service(sub)

    async def get_none_credentials(self) -> BackstageCredentials[BackstageNonePrincipal]:
        return mock_credentials.none()

    async def get_own_service_credentials(
        self,
    ) -> BackstageCredentials[BackstageServicePrincipal]:
        return mock_credentials.service(f"plugin:{self.plugin_id}")

    async def get_plugin_request_token(
        self, *, on_behalf_of: BackstageCredentials[Any], target_plugin_id: str
    ) -> PluginRequestToken:
        principal = on_behalf_of.principal
        if isinstance(principal, BackstageUserPrincipal):
            token = mock_credentials.service_token(
                target=target_plugin_id, obo=principal.user_entity_ref
            )
            return PluginRequestToken(token)
        if isinstance(principal, BackstageServicePrincipal):
            return PluginRequestToken(
                mock_credentials.service_token(principal.subject, target_plugin_id)
            )
        if self.disable_default_auth_policy:
            return PluginRequestToken("")
        kind = getattr(principal, "type", type(principal).__name__)
        raise AuthenticationError(f"Refused to issue service token for credential type '{kind}'")

    async def get_limited_user_token(
        self, credentials: BackstageCredentials[BackstageUserPrincipal]
    ) -> LimitedUserToken:
        principal: object = credentials.principal
        if not isinstance(principal, BackstageUserPrincipal):
            kind = getattr(principal, "type", type(principal).__name__)
            raise AuthenticationError(
                f"Refused to issue limited user token for credential type '{kind}'"
            )
        return LimitedUserToken(
            mock_credentials.limited_user_token(principal.user_entity_ref),
            datetime.now(UTC) + _TOKEN_LIFETIME,
        )

    async def list_public_service_keys(self) -> dict[str, Any]:
        return {"keys": []}


class MockHttpAuthService:
    """`core.httpAuth` for tests, as Backstage's `MockHttpAuthService`.

    A request without a token gets `default_credentials` (the mock user unless set), so
    plugin routes answer without a header; send `mock_credentials.none_header()`, or build
    the service with `default_credentials=mock_credentials.none()`, to test the 401.
    """

    def __init__(
        self,
        plugin_id: str = "test",
        *,
        default_credentials: BackstageCredentials[Any] | None = None,
    ) -> None:
        self._auth = MockAuthService(plugin_id)
        self._default: BackstageCredentials[BackstagePrincipal] = (
            default_credentials if default_credentials is not None else mock_credentials.user()
        )

    async def _read(
        self, request: ASGIConnection[Any, Any, Any, Any], allow_limited_access: bool
    ) -> BackstageCredentials[BackstagePrincipal]:
        header = request.headers.get("authorization")
        match = _BEARER.match(header) if header else None
        if match is not None:
            token = match.group(1)
            if token == MOCK_NONE_TOKEN:
                return mock_credentials.none()
            return await self._auth.authenticate(token, allow_limited_access=allow_limited_access)
        if allow_limited_access:
            cookie = request.cookies.get(MOCK_AUTH_COOKIE)
            if cookie:
                return await self._auth.authenticate(cookie, allow_limited_access=True)
        return self._default

    async def credentials(
        self,
        request: ASGIConnection[Any, Any, Any, Any],
        *,
        allow: Sequence[PrincipalType] | None = None,
        allow_limited_access: bool = False,
    ) -> BackstageCredentials[BackstagePrincipal]:
        credentials = await self._read(request, allow_limited_access)
        return check_principal_allowed(credentials, allow)

    async def issue_user_cookie(
        self,
        response: Response[Any],
        *,
        credentials: BackstageCredentials[BackstageUserPrincipal] | None = None,
    ) -> datetime:
        """Set a mock limited user token as the `backstage-auth` cookie.

        Without `credentials` the default credentials are used, which must be a user's.
        """
        chosen: BackstageCredentials[Any] = credentials or self._default
        if not isinstance(chosen.principal, BackstageUserPrincipal):
            raise AuthenticationError("Missing credentials")
        limited = await self._auth.get_limited_user_token(chosen)
        response.set_cookie(
            MOCK_AUTH_COOKIE,
            limited.token,
            expires=int(_TOKEN_LIFETIME.total_seconds()),
            httponly=True,
        )
        return limited.expires_at


def mock_auth_factory() -> ServiceFactory[AuthService]:
    """Mock auth for every plugin; honours `backend.auth.dangerouslyDisableDefaultAuthPolicy`."""

    def create(config: core.RootConfig, metadata: core.PluginMetadata) -> AuthService:
        disabled = config.get_optional_boolean("backend.auth.dangerouslyDisableDefaultAuthPolicy")
        return MockAuthService(metadata.get_id(), disable_default_auth_policy=bool(disabled))

    return create_service_factory(service=core.auth, factory=create)


def mock_http_auth_factory(
    *, default_credentials: BackstageCredentials[Any] | None = None
) -> ServiceFactory[HttpAuthService]:
    """Mock http auth for every plugin; requests without a token get `default_credentials`."""

    def create(metadata: core.PluginMetadata) -> HttpAuthService:
        return MockHttpAuthService(metadata.get_id(), default_credentials=default_credentials)

    return create_service_factory(service=core.http_auth, factory=create)
