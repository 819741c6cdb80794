"""The auth plugin's extension points: `auth.providers`, where provider modules register,
and `auth.ownershipResolution`, where a module replaces how ownership refs are resolved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from backstage_backend_plugin_api import ExtensionPoint, create_extension_point

from backstage_plugin_auth_node._provider import AuthProviderFactory

__all__ = [
    "AuthOwnershipResolutionExtensionPoint",
    "AuthOwnershipResolver",
    "AuthProvidersExtensionPoint",
    "auth_ownership_resolution_extension_point",
    "auth_providers_extension_point",
]


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


class AuthOwnershipResolver(Protocol):
    """Decides the ownership refs of a signed-in user (default: the user and its direct
    `memberOf` groups)."""

    async def resolve_ownership_entity_refs(self, entity: Mapping[str, Any]) -> list[str]:
        """The refs the user owns through; they become the token's `ent`.

        Args:
            entity: the user entity as the catalog returns it (with relations).
        """
        ...


class AuthOwnershipResolutionExtensionPoint(Protocol):
    """Where a module replaces how ownership refs are resolved."""

    def set_auth_ownership_resolver(self, resolver: AuthOwnershipResolver) -> None:
        """Use `resolver` for every sign-in with a catalog user; setting one twice is an
        error.

        Args:
            resolver: the ownership resolver.
        """
        ...


auth_ownership_resolution_extension_point: ExtensionPoint[AuthOwnershipResolutionExtensionPoint] = (
    create_extension_point(id="auth.ownershipResolution")
)
