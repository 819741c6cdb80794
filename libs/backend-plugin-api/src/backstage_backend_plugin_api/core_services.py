"""The core services every backend provides: a ref and an injectable alias for each.

Use the aliases as parameter annotations of an init or a factory; the backend injects
the matching service, and mypy checks how it is used::

    from backstage_backend_plugin_api import core_services as core

    async def init(logger: core.Logger, router: core.HttpRouter) -> None: ...
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

from backstage_backend_plugin_api._refs import ServiceRef, create_service_ref
from backstage_backend_plugin_api._services.auth import AuthService, HttpAuthService
from backstage_backend_plugin_api._services.cache import CacheService
from backstage_backend_plugin_api._services.config import RootConfigService
from backstage_backend_plugin_api._services.database import DatabaseService
from backstage_backend_plugin_api._services.discovery import DiscoveryService
from backstage_backend_plugin_api._services.health import RootHealthService
from backstage_backend_plugin_api._services.http_router import (
    HttpRouterService,
    RootHttpRouterService,
)
from backstage_backend_plugin_api._services.lifecycle import (
    LifecycleService,
    RootLifecycleService,
)
from backstage_backend_plugin_api._services.logger import LoggerService, RootLoggerService
from backstage_backend_plugin_api._services.permissions import PermissionsService
from backstage_backend_plugin_api._services.permissions_registry import PermissionsRegistryService
from backstage_backend_plugin_api._services.plugin_metadata import PluginMetadataService
from backstage_backend_plugin_api._services.scheduler import SchedulerService
from backstage_backend_plugin_api._services.url_reader import UrlReaderService

__all__ = [
    "Auth",
    "Cache",
    "Database",
    "Discovery",
    "HttpAuth",
    "HttpRouter",
    "Lifecycle",
    "Logger",
    "Permissions",
    "PermissionsRegistry",
    "PluginMetadata",
    "RootConfig",
    "RootHealth",
    "RootHttpRouter",
    "RootLifecycle",
    "RootLogger",
    "Scheduler",
    "UrlReader",
    "auth",
    "cache",
    "database",
    "discovery",
    "http_auth",
    "http_router",
    "lifecycle",
    "logger",
    "permissions",
    "permissions_registry",
    "plugin_metadata",
    "root_config",
    "root_health",
    "root_http_router",
    "root_lifecycle",
    "root_logger",
    "scheduler",
    "url_reader",
]

root_config: ServiceRef[RootConfigService] = create_service_ref(id="core.rootConfig", scope="root")
root_logger: ServiceRef[RootLoggerService] = create_service_ref(id="core.rootLogger", scope="root")
logger: ServiceRef[LoggerService] = create_service_ref(id="core.logger")
root_lifecycle: ServiceRef[RootLifecycleService] = create_service_ref(
    id="core.rootLifecycle", scope="root"
)
lifecycle: ServiceRef[LifecycleService] = create_service_ref(id="core.lifecycle")
root_health: ServiceRef[RootHealthService] = create_service_ref(id="core.rootHealth", scope="root")
root_http_router: ServiceRef[RootHttpRouterService] = create_service_ref(
    id="core.rootHttpRouter", scope="root"
)
http_router: ServiceRef[HttpRouterService] = create_service_ref(id="core.httpRouter")
discovery: ServiceRef[DiscoveryService] = create_service_ref(id="core.discovery")
database: ServiceRef[DatabaseService] = create_service_ref(id="core.database")
cache: ServiceRef[CacheService] = create_service_ref(id="core.cache")
scheduler: ServiceRef[SchedulerService] = create_service_ref(id="core.scheduler")
auth: ServiceRef[AuthService] = create_service_ref(id="core.auth")
http_auth: ServiceRef[HttpAuthService] = create_service_ref(id="core.httpAuth")
plugin_metadata: ServiceRef[PluginMetadataService] = create_service_ref(id="core.pluginMetadata")
permissions: ServiceRef[PermissionsService] = create_service_ref(id="core.permissions")
permissions_registry: ServiceRef[PermissionsRegistryService] = create_service_ref(
    id="core.permissionsRegistry"
)
url_reader: ServiceRef[UrlReaderService] = create_service_ref(id="core.urlReader")

RootConfig: TypeAlias = Annotated[RootConfigService, root_config]
RootLogger: TypeAlias = Annotated[RootLoggerService, root_logger]
Logger: TypeAlias = Annotated[LoggerService, logger]
RootLifecycle: TypeAlias = Annotated[RootLifecycleService, root_lifecycle]
Lifecycle: TypeAlias = Annotated[LifecycleService, lifecycle]
RootHealth: TypeAlias = Annotated[RootHealthService, root_health]
RootHttpRouter: TypeAlias = Annotated[RootHttpRouterService, root_http_router]
HttpRouter: TypeAlias = Annotated[HttpRouterService, http_router]
Discovery: TypeAlias = Annotated[DiscoveryService, discovery]
Database: TypeAlias = Annotated[DatabaseService, database]
Cache: TypeAlias = Annotated[CacheService, cache]
Scheduler: TypeAlias = Annotated[SchedulerService, scheduler]
Auth: TypeAlias = Annotated[AuthService, auth]
HttpAuth: TypeAlias = Annotated[HttpAuthService, http_auth]
PluginMetadata: TypeAlias = Annotated[PluginMetadataService, plugin_metadata]
Permissions: TypeAlias = Annotated[PermissionsService, permissions]
PermissionsRegistry: TypeAlias = Annotated[PermissionsRegistryService, permissions_registry]
UrlReader: TypeAlias = Annotated[UrlReaderService, url_reader]
