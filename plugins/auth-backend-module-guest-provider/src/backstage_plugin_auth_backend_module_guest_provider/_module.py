"""The `guest-provider` module of the auth plugin."""

from __future__ import annotations

from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_plugin_auth_node import (
    AuthProviderFactoryOptions,
    AuthProviderRouteHandlers,
    AuthProviders,
    create_proxy_provider_factory,
)

from backstage_plugin_auth_backend_module_guest_provider._authenticator import GuestAuthenticator
from backstage_plugin_auth_backend_module_guest_provider._resolver import sign_in_as_guest_user

__all__ = ["auth_module_guest_provider"]


async def _guest_provider(options: AuthProviderFactoryOptions) -> AuthProviderRouteHandlers:
    factory = create_proxy_provider_factory(
        GuestAuthenticator(), sign_in_resolver=sign_in_as_guest_user(options.config)
    )
    return await factory(options)


def _register(env: ModuleRegistrationPoints) -> None:
    async def init(providers: AuthProviders) -> None:
        providers.register_provider("guest", _guest_provider)

    env.register_init(init)


def auth_module_guest_provider() -> BackendModule:
    """Guest sign-in at `/api/auth/guest/refresh`, for development: refused unless the
    backend runs in development or `auth.providers.guest.dangerouslyAllowOutsideDevelopment`
    is set. Options under `auth.providers.guest`: `userEntityRef` (default
    `user:development/guest`) and `ownershipEntityRefs` (default: that ref)."""
    return create_backend_module(plugin_id="auth", module_id="guest-provider", register=_register)
