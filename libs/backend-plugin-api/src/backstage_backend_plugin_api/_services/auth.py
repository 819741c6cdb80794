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
"""The kinds of caller: a signed-in user, a service (a plugin or an external caller), or
nobody (an unauthenticated request)."""


@dataclass(frozen=True)
class BackstageUserPrincipal:
    """A signed-in user.

    Args:
        user_entity_ref: the user's entity reference, e.g. `user:default/jane`.
        actor: the service acting on the user's behalf, when a plugin made the call.
        type: always `"user"`.
    """

    user_entity_ref: str
    actor: BackstageServicePrincipal | None = None
    type: Literal["user"] = "user"


@dataclass(frozen=True)
class AccessRestrictions:
    """What an external service caller is limited to (`accessRestrictions` in config).

    Args:
        permission_names: the only permissions it may be granted; None: no limit.
        permission_attributes: for each attribute (such as `action`), the only values its
            permissions may have; None: no limit.
    """

    permission_names: tuple[str, ...] | None = None
    permission_attributes: dict[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class BackstageServicePrincipal:
    """A service: another plugin, or an external caller with a configured token.

    Args:
        subject: `plugin:<pluginId>` for plugins, the configured subject for external
            callers.
        access_restrictions: what an external caller is limited to; None: no limit.
        type: always `"service"`.
    """

    subject: str
    access_restrictions: AccessRestrictions | None = None
    type: Literal["service"] = "service"


@dataclass(frozen=True)
class BackstageNonePrincipal:
    """Nobody: the request carried no credentials.

    Args:
        type: always `"none"`.
    """

    type: Literal["none"] = "none"


BackstagePrincipal = BackstageUserPrincipal | BackstageServicePrincipal | BackstageNonePrincipal
"""Any principal; narrow it with `is_principal` or `isinstance`."""
P = TypeVar("P", BackstageUserPrincipal, BackstageServicePrincipal, BackstageNonePrincipal)
AnyPrincipal = TypeVar("AnyPrincipal", covariant=True)


@dataclass(frozen=True)
class BackstageCredentials(Generic[AnyPrincipal]):
    """Who made a request; opaque apart from its principal and expiry.

    Args:
        principal: the caller (see `BackstagePrincipal`).
        expires_at: when the credentials stop being valid; None: they do not expire.
        token: the token they were read from, kept to call other plugins on the caller's
            behalf; never log it.
    """

    principal: AnyPrincipal
    expires_at: datetime | None = None
    token: str | None = field(default=None, repr=False)


def is_principal(
    credentials: BackstageCredentials[Any], kind: type[P]
) -> TypeGuard[BackstageCredentials[P]]:
    """Whether the credentials' principal is of one class, narrowing their type.

    Args:
        credentials: the credentials to check.
        kind: the principal class, e.g. `BackstageUserPrincipal`.
    """
    return isinstance(credentials.principal, kind)


@dataclass(frozen=True)
class PluginRequestToken:
    """A token for one call to another plugin.

    Args:
        token: the bearer token to send in the `Authorization` header.
    """

    token: str


@dataclass(frozen=True)
class LimitedUserToken:
    """A user token that may only be used where limited access is allowed (cookies).

    Args:
        token: the token.
        expires_at: when it stops being valid.
    """

    token: str
    expires_at: datetime


class AuthService(Protocol):
    """core.auth: verifying tokens, and tokens for calling other plugins."""

    async def authenticate(
        self, token: str, *, allow_limited_access: bool = False
    ) -> BackstageCredentials[BackstagePrincipal]:
        """The credentials a token stands for; AuthenticationError when it is not valid.

        Args:
            token: a bearer token (user, plugin or external service token).
            allow_limited_access: accept a limited user token too.
        """
        ...

    async def get_none_credentials(self) -> BackstageCredentials[BackstageNonePrincipal]:
        """Credentials of nobody, for work no caller asked for."""
        ...

    async def get_own_service_credentials(
        self,
    ) -> BackstageCredentials[BackstageServicePrincipal]:
        """Credentials of this plugin itself (`plugin:<pluginId>`)."""
        ...

    async def get_plugin_request_token(
        self, *, on_behalf_of: BackstageCredentials[Any], target_plugin_id: str
    ) -> PluginRequestToken:
        """A short-lived token for one call to another plugin; never cache it.

        Args:
            on_behalf_of: the credentials of the caller the call is made for (a user's
                are passed on, as are this plugin's own).
            target_plugin_id: the plugin the call goes to.
        """
        ...

    async def get_limited_user_token(
        self, credentials: BackstageCredentials[BackstageUserPrincipal]
    ) -> LimitedUserToken:
        """A limited token for the user, as set in the `backstage-auth` cookie.

        Args:
            credentials: the user's credentials, holding a full user token.
        """
        ...

    async def list_public_service_keys(self) -> dict[str, Any]:
        """This plugin's public keys as a JWKS document (`{"keys": [...]}`)."""
        ...


class HttpAuthService(Protocol):
    """core.httpAuth: the credentials of an HTTP request, and the user cookie."""

    async def credentials(
        self,
        request: ASGIConnection[Any, Any, Any, Any],
        *,
        allow: Sequence[PrincipalType] | None = None,
        allow_limited_access: bool = False,
    ) -> BackstageCredentials[BackstagePrincipal]:
        """The caller's credentials; 401 when missing, 403 when of a type not allowed.

        Args:
            request: the request (or WebSocket) being handled.
            allow: the principal types accepted; None: any.
            allow_limited_access: accept a limited user token (the cookie) too.
        """
        ...

    async def issue_user_cookie(
        self,
        response: Response[Any],
        *,
        credentials: BackstageCredentials[BackstageUserPrincipal] | None = None,
    ) -> datetime:
        """Set the `backstage-auth` cookie on `response`; returns when it expires.

        Args:
            response: the response to set the cookie on.
            credentials: the user to issue it for (required: None is refused with an
                AuthenticationError); `none` credentials clear the cookie instead.
        """
        ...
