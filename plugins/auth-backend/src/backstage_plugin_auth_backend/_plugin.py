"""The `auth` plugin: providers through `auth.providers`, Backstage user tokens signed
with keys from its own database, and the documents other backends verify them with."""

from __future__ import annotations

from pathlib import Path

import httpx
from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.tls import client_ssl_context
from backstage_plugin_auth_node import (
    AuthProviderFactoryOptions,
    auth_ownership_resolution_extension_point,
    auth_providers_extension_point,
)
from backstage_plugin_catalog_node import CatalogClient

from backstage_plugin_auth_backend._issuer import TokenIssuer
from backstage_plugin_auth_backend._keys import SigningKeys
from backstage_plugin_auth_backend._origins import create_origin_filter
from backstage_plugin_auth_backend._providers import (
    OwnershipResolution,
    ProviderRegistry,
    initialize_providers,
)
from backstage_plugin_auth_backend._resolver_context import CatalogAuthResolverContext
from backstage_plugin_auth_backend._routes import auth_routes
from backstage_plugin_auth_backend._settings import read_auth_settings
from backstage_plugin_auth_backend._stores import FlowStateStore, UserInfoStore

__all__ = ["MIGRATIONS", "PLUGIN_ID", "auth_plugin"]

PLUGIN_ID = "auth"
MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _register(env: PluginRegistrationPoints) -> None:
    registry = ProviderRegistry()
    ownership = OwnershipResolution()
    env.register_extension_point(auth_providers_extension_point, registry)
    env.register_extension_point(auth_ownership_resolution_extension_point, ownership)

    async def init(
        database: core.Database,
        router: core.HttpRouter,
        config: core.RootConfig,
        logger: core.Logger,
        discovery: core.Discovery,
        auth: core.Auth,
        lifecycle: core.Lifecycle,
    ) -> None:
        await database.migrate(MIGRATIONS)
        settings = read_auth_settings(config)
        base_url = await discovery.get_external_base_url(PLUGIN_ID)
        keys = SigningKeys(
            database,
            logger,
            algorithm=settings.algorithm,
            key_duration_seconds=settings.token_expiration_seconds,
        )
        issuer = TokenIssuer(
            keys,
            logger,
            issuer=base_url,
            expires_in_seconds=settings.token_expiration_seconds,
            omit_ownership_claim=settings.omit_ownership_claim,
        )
        user_info = UserInfoStore(database)
        http = httpx.AsyncClient(verify=client_ssl_context(), timeout=_TIMEOUT)
        lifecycle.add_shutdown_hook(http.aclose)
        context = CatalogAuthResolverContext(
            catalog=CatalogClient(discovery=discovery, auth=auth, http=http),
            auth=auth,
            issuer=issuer,
            user_info=user_info,
            logger=logger,
            ownership=ownership.resolver,
        )
        is_origin_allowed = create_origin_filter(settings.app_url, settings.extra_allowed_origins)
        flows = FlowStateStore(database)
        providers_config = config.get_optional_config("auth.providers")
        options = {
            provider_id: AuthProviderFactoryOptions(
                provider_id=provider_id,
                base_url=base_url,
                app_url=settings.app_url,
                is_origin_allowed=is_origin_allowed,
                config=providers_config.get_config(provider_id),
                logger=logger,
                resolver_context=context,
                flow_state=flows,
                session_secret=settings.session_secret,
                is_development=settings.is_development,
                token_expires_in_seconds=settings.token_expiration_seconds,
            )
            for provider_id in registry.factories
            if providers_config is not None and providers_config.has(provider_id)
        }
        providers = await initialize_providers(
            registry.factories,
            config=config,
            options=options,
            logger=logger,
            is_development=settings.is_development,
        )
        router.use(
            *auth_routes(
                base_url=base_url,
                providers=providers,
                keys=keys,
                user_info=user_info,
                auth=auth,
            )
        )
        router.add_auth_policy(path="/", allow="unauthenticated")

    env.register_init(init)


def auth_plugin() -> BackendPlugin:
    """The auth plugin, mounted at `/api/auth`; add provider modules to sign in with."""
    return create_backend_plugin(plugin_id=PLUGIN_ID, register=_register)
