"""`auth.providers`: the extension point provider modules register through."""

from __future__ import annotations

from typing import Protocol

from backstage_backend_plugin_api import ExtensionPoint, create_extension_point

from backstage_plugin_auth_node._provider import AuthProviderFactory

__all__ = ["AuthProvidersExtensionPoint", "auth_providers_extension_point"]


class AuthProvidersExtensionPoint(Protocol):
    """Where auth provider modules add their providers."""

    def register_provider(self, provider_id: str, factory: AuthProviderFactory) -> None:
        """Serve a provider at `/api/auth/<provider_id>`.

        Args:
            provider_id: the provider's id (`github`, `oidc`, `guest`, ...); registering
                one twice is an error.
            factory: builds the provider's route handlers from its config
                (`create_oauth_provider_factory`, `create_proxy_provider_factory`).
        """
        ...


auth_providers_extension_point: ExtensionPoint[AuthProvidersExtensionPoint] = (
    create_extension_point(id="auth.providers")
)
