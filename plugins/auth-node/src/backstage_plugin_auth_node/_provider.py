"""Auth providers as the auth plugin mounts them: a factory per provider id that builds
the provider's route handlers (`start`, `handler/frame`, `refresh`, `logout`).

Handlers take an `AuthProviderRequest` and return an `AuthProviderResponse`, plain data
the auth plugin translates to and from HTTP, so providers know nothing of the web
framework and can be tested without a server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from backstage_backend_plugin_api import LoggerService
from backstage_common.config import Config

from backstage_plugin_auth_node._resolvers import AuthResolverContext

__all__ = [
    "AuthProviderFactory",
    "AuthProviderFactoryOptions",
    "AuthProviderRequest",
    "AuthProviderResponse",
    "AuthProviderRouteHandlers",
    "OAuthFlowStateStore",
]


@dataclass(frozen=True)
class AuthProviderRequest:
    """One request to a provider route.

    Args:
        method: `GET`, `POST`, ...
        path: the path under the auth plugin (`/github/refresh`), for error bodies.
        query: the query parameters (the first value of each); a bare key maps to `""`.
        headers: request headers, names in lower case.
        cookies: request cookies, values URI-decoded.
        form: fields of an `application/x-www-form-urlencoded` body, else empty.
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuthProviderResponse:
    """What a provider route answers.

    Args:
        status: the HTTP status.
        body: the body bytes.
        headers: response headers, `Set-Cookie` repeated once per cookie.
    """

    status: int
    body: bytes = b""
    headers: Sequence[tuple[str, str]] = ()


class AuthProviderRouteHandlers(Protocol):
    """A provider's routes; a handler the provider lacks answers 404 as in Backstage."""

    async def start(self, request: AuthProviderRequest) -> AuthProviderResponse:
        """`GET /<provider>/start`.

        Args:
            request: the request.
        """
        ...

    async def frame_handler(self, request: AuthProviderRequest) -> AuthProviderResponse:
        """`GET|POST /<provider>/handler/frame`.

        Args:
            request: the request.
        """
        ...

    async def refresh(self, request: AuthProviderRequest) -> AuthProviderResponse | None:
        """`GET|POST /<provider>/refresh`; None when the provider has no refresh.

        Args:
            request: the request.
        """
        ...

    async def logout(self, request: AuthProviderRequest) -> AuthProviderResponse | None:
        """`POST /<provider>/logout`; None when the provider has no logout (404).

        Args:
            request: the request.
        """
        ...


class OAuthFlowStateStore(Protocol):
    """Server-side, single-use state of OAuth flows in progress (the auth plugin keeps
    it in its database, shared by its replicas)."""

    async def save(self, flow_id: str, values: Mapping[str, str], *, ttl_seconds: int) -> None:
        """Keep `values` for the flow until consumed or expired.

        Args:
            flow_id: the flow's key (derived from its nonce, never the nonce itself).
            values: the authenticator's transient values.
            ttl_seconds: how long the flow may take.
        """
        ...

    async def consume(self, flow_id: str) -> Mapping[str, str] | None:
        """Take the flow's values and forget them; None when unknown, expired or taken.

        Args:
            flow_id: the flow's key.
        """
        ...


@dataclass(frozen=True)
class AuthProviderFactoryOptions:
    """What the auth plugin gives a provider factory.

    Args:
        provider_id: the provider's id (`github`), its path under the auth plugin.
        base_url: the auth plugin's external base URL (`http://localhost:7007/api/auth`).
        app_url: `app.baseUrl`.
        is_origin_allowed: whether an origin (`https://app.example.com`) may receive
            sign-in results: the origin of `app.baseUrl` or one matching
            `auth.experimentalExtraAllowedOrigins`.
        config: the provider's config block, `auth.providers.<providerId>`.
        logger: the auth plugin's logger.
        resolver_context: catalog lookups and token issuing for sign-in resolvers.
        flow_state: server-side single-use flow state.
        session_secret: `auth.session.secret`, from which the refresh cookie's encryption
            key is derived; None when not configured.
        is_development: whether the backend runs in development (`BACKSTAGE_ENV` is
            `development`).
        token_expires_in_seconds: the lifetime of issued Backstage tokens.
    """

    provider_id: str
    base_url: str
    app_url: str
    is_origin_allowed: Callable[[str], bool]
    config: Config
    logger: LoggerService
    resolver_context: AuthResolverContext
    flow_state: OAuthFlowStateStore
    session_secret: str | None
    is_development: bool
    token_expires_in_seconds: int


AuthProviderFactory = Callable[[AuthProviderFactoryOptions], Awaitable[AuthProviderRouteHandlers]]
"""Builds a provider's handlers at start; raising fails the provider's initialisation."""
