"""`create_oauth_provider_factory`: an OAuth provider from an authenticator.

Every key under `auth.providers.<id>` is an environment (`development`, `production`,
...); each gets its own authenticator context and routes. A request picks its
environment by the `env` query parameter, else by the `env` inside `state`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backstage_common.durations import read_optional_duration
from backstage_common.errors import InputError, NotFoundError

from backstage_plugin_auth_node._authenticator import OAuthAuthenticator, ProfileTransform
from backstage_plugin_auth_node._declarative import read_declarative_sign_in_resolver
from backstage_plugin_auth_node._oauth._cookies import OAuthCookies
from backstage_plugin_auth_node._oauth._handlers import OAuthEnvironmentRoutes
from backstage_plugin_auth_node._oauth._scopes import ScopeSet, read_additional_scopes
from backstage_plugin_auth_node._oauth._sealing import CookieSealer
from backstage_plugin_auth_node._oauth._state import decode_oauth_state
from backstage_plugin_auth_node._oauth._urls import parse_browser_url, url_origin
from backstage_plugin_auth_node._provider import (
    AuthProviderFactory,
    AuthProviderFactoryOptions,
    AuthProviderRequest,
    AuthProviderResponse,
    AuthProviderRouteHandlers,
)
from backstage_plugin_auth_node._resolvers import SignInResolver, SignInResolverFactory

__all__ = ["create_oauth_provider_factory"]


class _EnvironmentRoutes:
    def __init__(self, routes: Mapping[str, OAuthEnvironmentRoutes]) -> None:
        self._routes = routes

    def _for(self, request: AuthProviderRequest) -> OAuthEnvironmentRoutes:
        env = request.query.get("env")
        if not env and request.query.get("state"):
            env = decode_oauth_state(request.query["state"])["env"]
        if not env:
            raise InputError("Must specify 'env' query to select environment")
        routes = self._routes.get(env)
        if routes is None:
            raise NotFoundError(
                f"No configuration available for the '{env}' environment of this provider."
            )
        return routes

    async def start(self, request: AuthProviderRequest) -> AuthProviderResponse:
        return await self._for(request).start(request)

    async def frame_handler(self, request: AuthProviderRequest) -> AuthProviderResponse:
        return await self._for(request).frame_handler(request)

    async def refresh(self, request: AuthProviderRequest) -> AuthProviderResponse:
        return await self._for(request).refresh(request)

    async def logout(self, request: AuthProviderRequest) -> AuthProviderResponse:
        return await self._for(request).logout(request)


def create_oauth_provider_factory(
    authenticator: OAuthAuthenticator[Any, Any],
    sign_in_resolver_factories: Mapping[str, SignInResolverFactory[Any]] | None = None,
    profile_transform: ProfileTransform[Any, Any] | None = None,
    *,
    sign_in_resolver: SignInResolver[Any] | None = None,
    additional_scopes: tuple[str, ...] = (),
) -> AuthProviderFactory:
    """An OAuth provider: Backstage's `start`, `handler/frame`, `refresh` and `logout`
    routes around `authenticator`, one set per configured environment.

    Needs `auth.session.secret` (the refresh cookie is encrypted with a key derived from
    it): without it the provider fails to initialise.

    Args:
        authenticator: talks to the identity provider.
        sign_in_resolver_factories: the resolvers `signIn.resolvers` may name (add
            `common_sign_in_resolvers` to offer those).
        profile_transform: replaces the authenticator's `default_profile_transform`.
        sign_in_resolver: used when the environment configures no `signIn.resolvers`;
            with neither, sign-in returns the provider's session without a Backstage
            identity, as in Backstage.
        additional_scopes: scopes added to every request besides the configured
            `additionalScopes`.
    """
    factories = dict(sign_in_resolver_factories or {})

    async def factory(options: AuthProviderFactoryOptions) -> AuthProviderRouteHandlers:
        if not options.session_secret:
            raise InputError(
                f"The '{options.provider_id}' OAuth provider needs auth.session.secret: the "
                "provider's refresh cookie is encrypted with a key derived from it"
            )
        sealer = CookieSealer(options.session_secret)
        default_origin = url_origin(parse_browser_url(options.app_url))
        routes: dict[str, OAuthEnvironmentRoutes] = {}
        for env in options.config.keys():
            env_config = options.config.get_config(env)
            callback_url = (
                env_config.get_optional_string("callbackUrl")
                or f"{options.base_url}/{options.provider_id}/handler/frame"
            )
            duration = read_optional_duration(env_config, "sessionDuration")
            resolver = read_declarative_sign_in_resolver(env_config, factories) or sign_in_resolver
            routes[env] = OAuthEnvironmentRoutes(
                options=options,
                authenticator=authenticator,
                context=await authenticator.initialize(
                    callback_url=callback_url, config=env_config
                ),
                callback_url=callback_url,
                cookies=OAuthCookies(
                    provider_id=options.provider_id,
                    callback_url=callback_url,
                    default_app_origin=default_origin,
                    session_duration_seconds=int(duration.total_seconds()) if duration else None,
                ),
                sealer=sealer,
                scopes=ScopeSet(
                    required=authenticator.always_scopes,
                    additional=[*read_additional_scopes(env_config), *additional_scopes],
                ),
                sign_in_resolver=resolver,
                profile_transform=profile_transform,
            )
        return _EnvironmentRoutes(routes)

    return factory
