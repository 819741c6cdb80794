"""Proxy providers: sign-in from the request itself (a trusted proxy's headers, or the
guest), without a redirect. Only `refresh` exists; `start` and `handler/frame` answer 501
and `logout` 404, as in Backstage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import msgspec
from backstage_common.config import Config
from backstage_common.errors import InputError, NotImplementedError

from backstage_plugin_auth_node._declarative import read_declarative_sign_in_resolver
from backstage_plugin_auth_node._identity import prepare_backstage_identity_response
from backstage_plugin_auth_node._provider import (
    AuthProviderFactory,
    AuthProviderFactoryOptions,
    AuthProviderRequest,
    AuthProviderResponse,
    AuthProviderRouteHandlers,
)
from backstage_plugin_auth_node._resolvers import SignInInfo, SignInResolver, SignInResolverFactory
from backstage_plugin_auth_node._types import ProfileInfo

__all__ = [
    "ProxyAuthenticator",
    "ProxyAuthenticatorResult",
    "create_proxy_provider_factory",
]

TContext = TypeVar("TContext")
TResult = TypeVar("TResult")


@dataclass(frozen=True)
class ProxyAuthenticatorResult(Generic[TResult]):
    """Who the request says it is.

    Args:
        result: the authenticator's own result, passed to the profile transform and the
            sign-in resolver.
        provider_info: `providerInfo` of the response, if the provider has any.
    """

    result: TResult
    provider_info: Mapping[str, Any] | None = None


class ProxyAuthenticator(Protocol[TContext, TResult]):
    """Reads the identity a request carries."""

    async def initialize(self, *, config: Config, is_development: bool) -> TContext:
        """Read the provider's config (`auth.providers.<id>`) into a context.

        Args:
            config: the provider's config block.
            is_development: whether the backend runs in development.
        """
        ...

    async def authenticate(
        self, request: AuthProviderRequest, ctx: TContext
    ) -> ProxyAuthenticatorResult[TResult]:
        """Who the request is from; raise `AuthenticationError` or `NotAllowedError`.

        Args:
            request: the `/refresh` request.
            ctx: the context `initialize` made.
        """
        ...

    async def default_profile_transform(self, result: TResult, ctx: TContext) -> ProfileInfo:
        """The profile shown in the app.

        Args:
            result: what `authenticate` found.
            ctx: the context `initialize` made.
        """
        ...


class _ProxyRoutes:
    def __init__(
        self,
        *,
        authenticator: ProxyAuthenticator[Any, Any],
        context: Any,
        resolver: SignInResolver[Any],
        profile_transform: Callable[[Any, Any], Awaitable[ProfileInfo]] | None,
        options: AuthProviderFactoryOptions,
    ) -> None:
        self._authenticator = authenticator
        self._context = context
        self._resolver = resolver
        self._profile_transform = profile_transform
        self._options = options

    async def start(self, request: AuthProviderRequest) -> AuthProviderResponse:
        raise NotImplementedError("Not implemented")

    async def frame_handler(self, request: AuthProviderRequest) -> AuthProviderResponse:
        raise NotImplementedError("Not implemented")

    async def refresh(self, request: AuthProviderRequest) -> AuthProviderResponse:
        found = await self._authenticator.authenticate(request, self._context)
        transform = self._profile_transform or self._authenticator.default_profile_transform
        profile = await transform(found.result, self._context)
        signed_in = await self._resolver(
            SignInInfo(profile=profile, result=found.result), self._options.resolver_context
        )
        body: dict[str, Any] = {"profile": profile.to_json()}
        if found.provider_info is not None:
            body["providerInfo"] = dict(found.provider_info)
        body["backstageIdentity"] = prepare_backstage_identity_response(signed_in).to_json()
        return AuthProviderResponse(
            status=200,
            body=msgspec.json.encode(body),
            headers=[("content-type", "application/json; charset=utf-8")],
        )

    async def logout(self, request: AuthProviderRequest) -> AuthProviderResponse | None:
        return None


def create_proxy_provider_factory(
    authenticator: ProxyAuthenticator[Any, Any],
    *,
    sign_in_resolver: SignInResolver[Any] | None = None,
    sign_in_resolver_factories: Mapping[str, SignInResolverFactory[Any]] | None = None,
    profile_transform: Callable[[Any, Any], Awaitable[ProfileInfo]] | None = None,
) -> AuthProviderFactory:
    """A proxy provider: `GET|POST /<provider>/refresh` signs in from the request.

    Args:
        authenticator: reads the identity from the request.
        sign_in_resolver: the resolver; when absent `signIn.resolvers` must configure one.
        sign_in_resolver_factories: the resolvers `signIn.resolvers` may name.
        profile_transform: replaces the authenticator's `default_profile_transform`.
    """
    factories = dict(sign_in_resolver_factories or {})

    async def factory(options: AuthProviderFactoryOptions) -> AuthProviderRouteHandlers:
        resolver = sign_in_resolver or read_declarative_sign_in_resolver(options.config, factories)
        if resolver is None:
            raise InputError(
                f"No sign-in resolver configured for proxy auth provider '{options.provider_id}'"
            )
        context = await authenticator.initialize(
            config=options.config, is_development=options.is_development
        )
        return _ProxyRoutes(
            authenticator=authenticator,
            context=context,
            resolver=resolver,
            profile_transform=profile_transform,
            options=options,
        )

    return factory
