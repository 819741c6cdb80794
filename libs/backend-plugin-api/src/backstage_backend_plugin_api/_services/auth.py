"""core.auth and core.httpAuth: who is calling, and tokens for calling other plugins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeGuard, TypeVar

from litestar.connection import ASGIConnection
from litestar.response import Response

__all__ = [
    "AccessRestrictions",
    "AuthService",
    "BackstageCredentials",
    "BackstageNonePrincipal",
    "BackstagePrincipal",
    "BackstageServicePrincipal",
    "BackstageUserPrincipal",
    "HttpAuthService",
    "LimitedUserToken",
    "PluginRequestToken",
    "PrincipalType",
    "is_principal",
]

PrincipalType = Literal["user", "service", "none"]


@dataclass(frozen=True)
class BackstageUserPrincipal:
    user_entity_ref: str
    actor: BackstageServicePrincipal | None = None
    type: Literal["user"] = "user"


@dataclass(frozen=True)
class AccessRestrictions:
    permission_names: tuple[str, ...] | None = None
    permission_attributes: dict[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class BackstageServicePrincipal:
    subject: str
    """`plugin:<pluginId>` for plugins, the configured subject for external callers."""
    access_restrictions: AccessRestrictions | None = None
    type: Literal["service"] = "service"


@dataclass(frozen=True)
class BackstageNonePrincipal:
    type: Literal["none"] = "none"


BackstagePrincipal = BackstageUserPrincipal | BackstageServicePrincipal | BackstageNonePrincipal
P = TypeVar("P", BackstageUserPrincipal, BackstageServicePrincipal, BackstageNonePrincipal)
AnyPrincipal = TypeVar("AnyPrincipal", covariant=True)


@dataclass(frozen=True)
class BackstageCredentials(Generic[AnyPrincipal]):
    """Who made a request; opaque apart from its principal and expiry."""

    principal: AnyPrincipal
    expires_at: datetime | None = None
    token: str | None = field(default=None, repr=False)


def is_principal(
    credentials: BackstageCredentials[Any], kind: type[P]
) -> TypeGuard[BackstageCredentials[P]]:
    """Narrow credentials to one principal class, e.g. `BackstageUserPrincipal`."""
    return isinstance(credentials.principal, kind)


@dataclass(frozen=True)
class PluginRequestToken:
    token: str


@dataclass(frozen=True)
class LimitedUserToken:
    token: str
    expires_at: datetime


class AuthService(Protocol):
    async def authenticate(
        self, token: str, *, allow_limited_access: bool = False
    ) -> BackstageCredentials[BackstagePrincipal]:
        """Verify a token; AuthenticationError when it is not valid."""
        ...

    async def get_none_credentials(self) -> BackstageCredentials[BackstageNonePrincipal]: ...

    async def get_own_service_credentials(
        self,
    ) -> BackstageCredentials[BackstageServicePrincipal]:
        """Credentials of this plugin itself (`plugin:<pluginId>`)."""
        ...

    async def get_plugin_request_token(
        self, *, on_behalf_of: BackstageCredentials[Any], target_plugin_id: str
    ) -> PluginRequestToken:
        """A short-lived token for one call to `target_plugin_id`; never cache it."""
        ...

    async def get_limited_user_token(
        self, credentials: BackstageCredentials[BackstageUserPrincipal]
    ) -> LimitedUserToken: ...

    async def list_public_service_keys(self) -> dict[str, Any]:
        """This plugin's public keys as a JWKS document (`{"keys": [...]}`)."""
        ...


class HttpAuthService(Protocol):
    async def credentials(
        self,
        request: ASGIConnection[Any, Any, Any, Any],
        *,
        allow: Sequence[PrincipalType] | None = None,
        allow_limited_access: bool = False,
    ) -> BackstageCredentials[BackstagePrincipal]:
        """The caller's credentials; 401 when missing, 403 when of a type not allowed."""
        ...

    async def issue_user_cookie(
        self,
        response: Response[Any],
        *,
        credentials: BackstageCredentials[BackstageUserPrincipal] | None = None,
    ) -> datetime:
        """Set the `backstage-auth` cookie on `response`; returns when it expires."""
        ...
