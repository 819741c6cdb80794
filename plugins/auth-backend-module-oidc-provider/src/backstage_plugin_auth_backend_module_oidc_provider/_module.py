"""The `oidc-provider` module of the auth plugin: registers the `oidc` provider."""

from __future__ import annotations

from typing import Any, Final

import httpx
from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.tls import client_ssl_context
from backstage_plugin_auth_node import (
    AuthProviders,
    SignInResolverFactory,
    common_sign_in_resolvers,
    create_oauth_provider_factory,
)

from backstage_plugin_auth_backend_module_oidc_provider._authenticator import OidcAuthenticator

__all__ = ["auth_module_oidc_provider", "oidc_sign_in_resolvers"]

PROVIDER_ID: Final = "oidc"

oidc_sign_in_resolvers: dict[str, SignInResolverFactory[Any]] = dict(common_sign_in_resolvers)
"""The resolvers `signIn.resolvers` may name for `oidc`: the common ones
(`emailMatchingUserEntityProfileEmail`, `emailLocalPartMatchingUserEntityName`, ...)."""


def _register(env: ModuleRegistrationPoints) -> None:
    async def init(providers: AuthProviders, lifecycle: core.Lifecycle) -> None:
        # Redirects are not followed: an IdP endpoint that redirects is misconfigured, and
        # a token request must never be replayed to another host.
        http = httpx.AsyncClient(verify=client_ssl_context(), follow_redirects=False)
        lifecycle.add_shutdown_hook(http.aclose)
        providers.register_provider(
            PROVIDER_ID,
            create_oauth_provider_factory(
                authenticator=OidcAuthenticator(http=http),
                sign_in_resolver_factories=oidc_sign_in_resolvers,
            ),
        )

    env.register_init(init)


def auth_module_oidc_provider() -> BackendModule:
    """Sign-in with any OpenID Connect provider at `/api/auth/oidc`, configured under
    `auth.providers.oidc.<env>` (`clientId`, `clientSecret`, `metadataUrl`, `prompt`,
    `additionalScopes`, `signIn.resolvers`, ...)."""
    return create_backend_module(plugin_id="auth", module_id="oidc-provider", register=_register)
