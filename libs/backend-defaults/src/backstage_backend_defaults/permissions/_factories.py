"""The `core.permissions` and `core.permissionsRegistry` factories and the config they read:
`permission.enabled` (default false, as in Backstage) and
`permission.cache.maxEntries` (decisions remembered per plugin, default 10,000)."""

from __future__ import annotations

import httpx
from backstage_backend_plugin_api import core_services as core
from backstage_backend_plugin_api import create_service_factory
from backstage_common.errors import InputError

from backstage_backend_defaults._lazy_http import LazyHttpClient
from backstage_backend_defaults.permissions._client import PermissionBackendClient
from backstage_backend_defaults.permissions._decision_cache import DecisionCache
from backstage_backend_defaults.permissions._integration_routes import (
    permission_integration_handlers,
)
from backstage_backend_defaults.permissions._registry import DefaultPermissionsRegistryService
from backstage_backend_defaults.permissions._service import DefaultPermissionsService

__all__ = ["permissions_registry_service_factory", "permissions_service_factory"]

_DEFAULT_MAX_ENTRIES = 10_000
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def _max_entries(config: core.RootConfig) -> int:
    key = "permission.cache.maxEntries"
    value = config.get_optional_number(key)
    if value is None:
        return _DEFAULT_MAX_ENTRIES
    if not isinstance(value, int) or value < 0:
        raise InputError(f"Invalid {key}: expected a whole number, 0 or more")
    return value


def _create_permissions(
    config: core.RootConfig,
    auth: core.Auth,
    discovery: core.Discovery,
    logger: core.Logger,
    lifecycle: core.Lifecycle,
) -> DefaultPermissionsService:
    enabled = config.get_optional_boolean("permission.enabled") is True
    http = LazyHttpClient(_TIMEOUT)
    lifecycle.add_shutdown_hook(http.close)
    client = PermissionBackendClient(
        auth=auth,
        discovery=discovery,
        http=http,
        logger=logger,
        cache=DecisionCache(max_entries=_max_entries(config)),
    )
    return DefaultPermissionsService(enabled=enabled, client=client)


def _create_registry(
    metadata: core.PluginMetadata,
    router: core.HttpRouter,
    http_auth: core.HttpAuth,
    lifecycle: core.Lifecycle,
) -> DefaultPermissionsRegistryService:
    registry = DefaultPermissionsRegistryService(metadata.get_id())
    router.use(*permission_integration_handlers(registry, http_auth))

    async def close_registration() -> None:
        registry.close_registration()

    lifecycle.add_startup_hook(close_registration)
    return registry


permissions_service_factory = create_service_factory(
    service=core.permissions, factory=_create_permissions
)
permissions_registry_service_factory = create_service_factory(
    service=core.permissions_registry, factory=_create_registry
)
