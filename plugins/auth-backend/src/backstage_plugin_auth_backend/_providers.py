"""The providers modules register, and their route handlers once initialised."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from backstage_backend_plugin_api import LoggerService
from backstage_common.config import Config
from backstage_plugin_auth_node import (
    AuthOwnershipResolver,
    AuthProviderFactory,
    AuthProviderFactoryOptions,
    AuthProviderRouteHandlers,
)

__all__ = ["OwnershipResolution", "ProviderRegistry", "ProviderRoutes", "initialize_providers"]


class ProviderRegistry:
    """The `auth.providers` extension point: factories by provider id."""

    def __init__(self) -> None:
        self.factories: dict[str, AuthProviderFactory] = {}

    def register_provider(self, provider_id: str, factory: AuthProviderFactory) -> None:
        if provider_id in self.factories:
            raise ValueError(f"Auth provider '{provider_id}' is already registered")
        self.factories[provider_id] = factory


class OwnershipResolution:
    """The `auth.ownershipResolution` extension point: at most one resolver."""

    def __init__(self) -> None:
        self.resolver: AuthOwnershipResolver | None = None

    def set_auth_ownership_resolver(self, resolver: AuthOwnershipResolver) -> None:
        if self.resolver is not None:
            raise ValueError("An auth ownership resolver is already set")
        self.resolver = resolver


@dataclass(frozen=True)
class ProviderRoutes:
    """A provider's handlers, or why it has none (answered 404 on every path)."""

    handlers: AuthProviderRouteHandlers | None
    unavailable: str | None = None


def _misconfigured(provider_id: str) -> str:
    return (
        f"Auth provider registered for '{provider_id}' is misconfigured. This could mean the "
        f"configs under auth.providers.{provider_id} are missing or the environment variables "
        "used are not defined. Check the auth backend plugin logs when the backend starts to "
        "see more details."
    )


async def initialize_providers(
    factories: Mapping[str, AuthProviderFactory],
    *,
    config: Config,
    options: Mapping[str, AuthProviderFactoryOptions],
    logger: LoggerService,
    is_development: bool,
) -> dict[str, ProviderRoutes]:
    """Initialise every configured provider; in development a failing one is skipped with
    a warning, elsewhere it stops the backend, as in Backstage."""
    providers_config = config.get_optional_config("auth.providers")
    routes: dict[str, ProviderRoutes] = {}
    for provider_id, factory in factories.items():
        if providers_config is None or not providers_config.has(provider_id):
            routes[provider_id] = ProviderRoutes(
                None, f"No auth provider registered for '{provider_id}'"
            )
            continue
        logger.info(f"Configuring auth provider: {provider_id}")
        try:
            routes[provider_id] = ProviderRoutes(await factory(options[provider_id]))
        except Exception as error:
            if not is_development:
                raise RuntimeError(
                    f"Failed to initialize {provider_id} auth provider, {error}"
                ) from error
            logger.warn(f"Skipping {provider_id} auth provider, {error}")
            routes[provider_id] = ProviderRoutes(None, _misconfigured(provider_id))
    return routes
