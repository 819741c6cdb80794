"""The `github-provider` module of the auth plugin: registers the `github` provider."""

from __future__ import annotations

from typing import Final

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
    common_sign_in_resolvers,
    create_oauth_provider_factory,
)
from backstage_plugin_catalog_node import CatalogClient

from backstage_plugin_auth_backend_module_github_provider._authenticator import (
    GithubAuthenticator,
)
from backstage_plugin_auth_backend_module_github_provider._resolvers import (
    create_github_sign_in_resolvers,
)

__all__ = ["auth_module_github_provider"]

PROVIDER_ID: Final = "github"


def _register(env: ModuleRegistrationPoints) -> None:
    async def init(
        providers: AuthProviders,
        discovery: core.Discovery,
        auth: core.Auth,
        lifecycle: core.Lifecycle,
    ) -> None:
        # Redirects are not followed: a token request must never be replayed elsewhere.
        http = httpx.AsyncClient(verify=client_ssl_context(), follow_redirects=False)
        lifecycle.add_shutdown_hook(http.aclose)
        catalog = CatalogClient(discovery=discovery, auth=auth, http=http)
        providers.register_provider(
            PROVIDER_ID,
            create_oauth_provider_factory(
                authenticator=GithubAuthenticator(http=http),
                sign_in_resolver_factories={
                    **create_github_sign_in_resolvers(catalog),
                    **common_sign_in_resolvers,
                },
            ),
        )

    env.register_init(init)


def auth_module_github_provider() -> BackendModule:
    """Sign-in with GitHub (or a GitHub Enterprise Server) at `/api/auth/github`,
    configured under `auth.providers.github.<env>` (`clientId`, `clientSecret`,
    `enterpriseInstanceUrl`, `additionalScopes`, `signIn.resolvers`, ...)."""
    return create_backend_module(plugin_id="auth", module_id="github-provider", register=_register)
