"""backstage_backend_plugin_api: what backend plugin and module authors build against.

Plugins, modules, service refs and factories, extension points, and the core services'
Protocols. No I/O and no implementations: those live in `backstage_backend_defaults`.
"""

from backstage_backend_plugin_api import core_services
from backstage_backend_plugin_api._factories import ServiceFactory, create_service_factory
from backstage_backend_plugin_api._features import (
    BackendFeature,
    BackendModule,
    BackendPlugin,
    ModuleRegistrationPoints,
    PluginRegistrationPoints,
    create_backend_module,
    create_backend_plugin,
)
from backstage_backend_plugin_api._refs import (
    ExtensionPoint,
    ServiceRef,
    ServiceScope,
    create_extension_point,
    create_service_ref,
)
from backstage_backend_plugin_api._services.auth import (
    AccessRestrictions,
    AuthService,
    BackstageCredentials,
    BackstageNonePrincipal,
    BackstagePrincipal,
    BackstageServicePrincipal,
    BackstageUserPrincipal,
    HttpAuthService,
    LimitedUserToken,
    PluginRequestToken,
    PrincipalType,
    is_principal,
)
from backstage_backend_plugin_api._services.cache import CacheService, JsonValue
from backstage_backend_plugin_api._services.config import RootConfigService
from backstage_backend_plugin_api._services.database import (
    DatabaseMigrationsOptions,
    DatabaseService,
    EnginePurpose,
)
from backstage_backend_plugin_api._services.discovery import DiscoveryService
from backstage_backend_plugin_api._services.health import HealthCheckResult, RootHealthService
from backstage_backend_plugin_api._services.http_router import (
    AuthPolicy,
    HttpRouterService,
    RootHttpRouterService,
)
from backstage_backend_plugin_api._services.lifecycle import (
    LifecycleHook,
    LifecycleService,
    RootLifecycleService,
)
from backstage_backend_plugin_api._services.logger import (
    LoggerService,
    LogMeta,
    RootLoggerService,
)
from backstage_backend_plugin_api._services.permissions import (
    AuthorizePermissionRequest,
    PermissionsService,
    QueryPermissionRequest,
)
from backstage_backend_plugin_api._services.permissions_registry import (
    GetResources,
    PermissionResourceRef,
    PermissionRule,
    PermissionRuleset,
    PermissionsRegistryService,
)
from backstage_backend_plugin_api._services.plugin_metadata import PluginMetadataService
from backstage_backend_plugin_api._services.scheduler import (
    CronFrequency,
    ManualTrigger,
    ScheduleFrequency,
    SchedulerService,
    SchedulerServiceTaskDescriptor,
    SchedulerServiceTaskRunner,
    SchedulerServiceTaskScheduleDefinition,
    TaskFunction,
    TaskScope,
)
from backstage_backend_plugin_api._services.scheduler_schedules import (
    read_scheduler_service_task_schedule_definition_from_config,
    task_schedule_definition,
)
from backstage_backend_plugin_api._services.url_reader import (
    ReadTreeFilter,
    UrlReaderService,
    UrlReaderServiceReadTreeResponse,
    UrlReaderServiceReadTreeResponseFile,
    UrlReaderServiceReadUrlResponse,
    UrlReaderServiceSearchResponse,
    UrlReaderServiceSearchResponseFile,
)

__all__ = [
    "AccessRestrictions",
    "AuthPolicy",
    "AuthService",
    "AuthorizePermissionRequest",
    "BackendFeature",
    "BackendModule",
    "BackendPlugin",
    "BackstageCredentials",
    "BackstageNonePrincipal",
    "BackstagePrincipal",
    "BackstageServicePrincipal",
    "BackstageUserPrincipal",
    "CacheService",
    "CronFrequency",
    "DatabaseMigrationsOptions",
    "DatabaseService",
    "DiscoveryService",
    "EnginePurpose",
    "ExtensionPoint",
    "GetResources",
    "HealthCheckResult",
    "HttpAuthService",
    "HttpRouterService",
    "JsonValue",
    "LifecycleHook",
    "LifecycleService",
    "LimitedUserToken",
    "LogMeta",
    "LoggerService",
    "ManualTrigger",
    "ModuleRegistrationPoints",
    "PermissionResourceRef",
    "PermissionRule",
    "PermissionRuleset",
    "PermissionsRegistryService",
    "PermissionsService",
    "PluginMetadataService",
    "PluginRegistrationPoints",
    "PluginRequestToken",
    "PrincipalType",
    "QueryPermissionRequest",
    "ReadTreeFilter",
    "RootConfigService",
    "RootHealthService",
    "RootHttpRouterService",
    "RootLifecycleService",
    "RootLoggerService",
    "ScheduleFrequency",
    "SchedulerService",
    "SchedulerServiceTaskDescriptor",
    "SchedulerServiceTaskRunner",
    "SchedulerServiceTaskScheduleDefinition",
    "ServiceFactory",
    "ServiceRef",
    "ServiceScope",
    "TaskFunction",
    "TaskScope",
    "UrlReaderService",
    "UrlReaderServiceReadTreeResponse",
    "UrlReaderServiceReadTreeResponseFile",
    "UrlReaderServiceReadUrlResponse",
    "UrlReaderServiceSearchResponse",
    "UrlReaderServiceSearchResponseFile",
    "core_services",
    "create_backend_module",
    "create_backend_plugin",
    "create_extension_point",
    "create_service_factory",
    "create_service_ref",
    "is_principal",
    "read_scheduler_service_task_schedule_definition_from_config",
    "task_schedule_definition",
]
