"""`OAuthAuthenticator`: what an OAuth provider module implements.

An authenticator speaks to its identity provider only: it builds the authorize URL, trades
a code for tokens, refreshes them, and turns its profile into a `ProfileInfo`. The generic
flow (`create_oauth_provider_factory`) owns everything HTTP: the routes, `state`, cookies,
origin checks, environments and the popup page. Authenticators never see a request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from backstage_common.config import Config

from backstage_plugin_auth_node._types import OAuthAuthenticatorResult, ProfileInfo

__all__ = [
    "OAuthAuthenticateInput",
    "OAuthAuthenticator",
    "OAuthLogoutInput",
    "OAuthRefreshInput",
    "OAuthStartInput",
    "OAuthStartResponse",
    "ProfileTransform",
]

TContext = TypeVar("TContext")
TProfile = TypeVar("TProfile")


@dataclass(frozen=True)
class OAuthStartInput:
    """What `start` builds the authorize URL from.

    Args:
        scope: the scope to ask for, space separated (requested, granted, required and
            additional scopes, de-duplicated).
        state: the encoded Backstage state; pass it to the provider unchanged as `state`.
        callback_url: the `redirect_uri` of this environment.
    """

    scope: str
    state: str
    callback_url: str


@dataclass(frozen=True)
class OAuthStartResponse:
    """Where to send the browser, and what the callback will need.

    Args:
        url: the provider's authorize URL.
        transient: secrets the callback needs (a PKCE `code_verifier`, the ID token
            `nonce`, ...). The framework keeps them server-side, bound to this flow, for
            ten minutes and hands them to `authenticate` once; they never reach the
            browser.
    """

    url: str
    transient: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OAuthAuthenticateInput:
    """The provider's answer at the callback.

    Args:
        query: the callback's query parameters (`code`, `state`, `error`, ...).
        callback_url: the `redirect_uri` used at `start`.
        transient: what `start` returned as `transient`, for this flow.
        form: the callback's form fields when the provider POSTs them
            (`response_mode=form_post`), else empty.
    """

    query: Mapping[str, str]
    callback_url: str
    transient: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OAuthRefreshInput:
    """A refresh with the token kept in the provider's refresh cookie.

    Args:
        refresh_token: the refresh token `authenticate` (or a previous refresh) returned.
        scope: the scope asked for, space separated.
        scope_already_granted: whether every requested scope is within the granted-scope
            cookie (only meaningful when scopes are persisted).
    """

    refresh_token: str
    scope: str
    scope_already_granted: bool = True


@dataclass(frozen=True)
class OAuthLogoutInput:
    """A sign-out.

    Args:
        refresh_token: the refresh token from the provider's cookie, if there was one.
    """

    refresh_token: str | None = None


class OAuthAuthenticator(Protocol[TContext, TProfile]):
    """One OAuth identity provider; `initialize` makes a context per configured environment.

    Errors: raise `backstage_common.errors` types (`AuthenticationError` for a refused
    code or token, `NotAllowedError`, `InputError` for a malformed callback); the framework
    answers them on the popup page or as Backstage's JSON error body.
    """

    @property
    def should_persist_scopes(self) -> bool:
        """Whether granted scopes are kept in the `<provider>-granted-scope` cookie and
        echoed in `state` (GitHub and OIDC do)."""
        ...

    @property
    def always_scopes(self) -> Sequence[str]:
        """Scopes every authorize request includes (`openid profile email`, `read:user`)."""
        ...

    async def initialize(self, *, callback_url: str, config: Config) -> TContext:
        """Read one environment's config (`auth.providers.<id>.<env>`) into a context.

        Runs when the backend starts; a bad config raises `InputError` (or
        `backstage_common.config.ConfigError`) naming the key. Defer network calls (for
        example fetching a discovery document) to first use, so an identity provider that
        is down does not stop the backend.

        Args:
            callback_url: the environment's `callbackUrl`, or the default
                `<auth base URL>/<providerId>/handler/frame`.
            config: the environment's config block.
        """
        ...

    async def start(self, input: OAuthStartInput, ctx: TContext) -> OAuthStartResponse:
        """Build the provider's authorize URL.

        Args:
            input: scope, state and callback URL.
            ctx: the environment's context.
        """
        ...

    async def authenticate(
        self, input: OAuthAuthenticateInput, ctx: TContext
    ) -> OAuthAuthenticatorResult[TProfile]:
        """Complete the flow at the callback: trade the code for tokens, read the profile.

        Args:
            input: the callback's query, the callback URL and the flow's transient values.
            ctx: the environment's context.
        """
        ...

    async def refresh(
        self, input: OAuthRefreshInput, ctx: TContext
    ) -> OAuthAuthenticatorResult[TProfile]:
        """Get fresh tokens (and the profile) with a refresh token.

        Args:
            input: the refresh token and the requested scope.
            ctx: the environment's context.
        """
        ...

    async def logout(self, input: OAuthLogoutInput, ctx: TContext) -> str | None:
        """Sign out at the provider (revoke tokens); return a logout URL to send the
        browser to, or None.

        Args:
            input: the refresh token, if the browser had one.
            ctx: the environment's context.
        """
        ...

    async def default_profile_transform(
        self, result: OAuthAuthenticatorResult[TProfile], ctx: TContext
    ) -> ProfileInfo:
        """The profile shown in the app, made from the provider's profile.

        Args:
            result: what `authenticate` or `refresh` returned.
            ctx: the environment's context.
        """
        ...


ProfileTransform = Callable[[OAuthAuthenticatorResult[TProfile], TContext], Awaitable[ProfileInfo]]
"""Replaces an authenticator's `default_profile_transform` (result, context) -> profile."""
