"""`mock_services`: a working fake and a service factory for every core service."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Literal

from backstage_backend_plugin_api import (
    AuthService,
    BackstageCredentials,
    CacheService,
    DatabaseService,
    DiscoveryService,
    HttpAuthService,
    LoggerService,
    PermissionsService,
    RootConfigService,
    RootLoggerService,
    SchedulerService,
    ServiceFactory,
)

from backstage_backend_test_utils._auth import (
    MockAuthService,
    MockHttpAuthService,
    mock_auth_factory,
    mock_http_auth_factory,
)
from backstage_backend_test_utils._cache import (
    InMemoryCache,
    InMemoryCacheStore,
    mock_cache_factory,
)
from backstage_backend_test_utils._config import mock_root_config, mock_root_config_factory
from backstage_backend_test_utils._database import InMemoryDatabaseService, mock_database_factory
from backstage_backend_test_utils._discovery import (
    DEFAULT_BASE_URL,
    MockDiscovery,
    mock_discovery_factory,
)
from backstage_backend_test_utils._logger import (
    CapturingLogger,
    LogLevel,
    mock_logger_factory,
    mock_root_logger_factory,
)
from backstage_backend_test_utils._permissions import (
    Decide,
    MockPermissionsService,
    mock_permissions_factory,
)
from backstage_backend_test_utils._scheduler import MockScheduler, mock_scheduler_factory

__all__ = ["mock_services"]


class mock_services:
    """Fakes of the core services, named after Backstage's `mockServices`.

    `mock_services.<name>(...)` builds a working fake to use directly;
    `mock_services.<name>_factory(...)` is a service factory to pass among the features of
    `start_test_backend` (or `Backend.add`), where it replaces the default.
    """

    def __init__(self) -> None:
        raise TypeError("mock_services is a namespace; call its static methods")

    @staticmethod
    def root_config(data: Mapping[str, Any] | None = None) -> RootConfigService:
        return mock_root_config(data)

    @staticmethod
    def root_config_factory(
        data: Mapping[str, Any] | None = None,
    ) -> ServiceFactory[RootConfigService]:
        return mock_root_config_factory(data)

    @staticmethod
    def root_logger(level: LogLevel | Literal["none"] = "debug") -> CapturingLogger:
        """A logger that records entries in `.entries`; its children share the list."""
        return CapturingLogger(level)

    @staticmethod
    def root_logger_factory(
        level: LogLevel | Literal["none"] = "debug", *, logger: CapturingLogger | None = None
    ) -> ServiceFactory[RootLoggerService]:
        return mock_root_logger_factory(level, logger=logger)

    @staticmethod
    def logger_factory() -> ServiceFactory[LoggerService]:
        return mock_logger_factory()

    @staticmethod
    def discovery(base_url: str = DEFAULT_BASE_URL) -> MockDiscovery:
        """Every plugin at `<base_url>/api/<pluginId>`."""
        return MockDiscovery(base_url)

    @staticmethod
    def discovery_factory(base_url: str = DEFAULT_BASE_URL) -> ServiceFactory[DiscoveryService]:
        return mock_discovery_factory(base_url)

    @staticmethod
    def auth(
        plugin_id: str = "test", *, disable_default_auth_policy: bool = False
    ) -> MockAuthService:
        """Auth accepting the mock tokens of `mock_credentials`, as plugin `plugin_id`."""
        return MockAuthService(plugin_id, disable_default_auth_policy=disable_default_auth_policy)

    @staticmethod
    def auth_factory() -> ServiceFactory[AuthService]:
        return mock_auth_factory()

    @staticmethod
    def http_auth(
        plugin_id: str = "test", *, default_credentials: BackstageCredentials[Any] | None = None
    ) -> MockHttpAuthService:
        """Http auth on mock tokens; a request without one gets `default_credentials`
        (the mock user `user:default/mock` unless given)."""
        return MockHttpAuthService(plugin_id, default_credentials=default_credentials)

    @staticmethod
    def http_auth_factory(
        *, default_credentials: BackstageCredentials[Any] | None = None
    ) -> ServiceFactory[HttpAuthService]:
        return mock_http_auth_factory(default_credentials=default_credentials)

    @staticmethod
    def cache(
        *,
        plugin_id: str = "test",
        default_ttl: timedelta | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> InMemoryCache:
        """An in-memory cache for `plugin_id`; `clock` (monotonic seconds) decides expiry."""
        return InMemoryCache(
            InMemoryCacheStore(clock=clock), namespace=plugin_id, default_ttl=default_ttl
        )

    @staticmethod
    def cache_factory(*, default_ttl: timedelta | None = None) -> ServiceFactory[CacheService]:
        return mock_cache_factory(default_ttl=default_ttl)

    @staticmethod
    def database(
        plugin_id: str = "test", *, skip_migrations: bool = False
    ) -> InMemoryDatabaseService:
        """A private in-memory SQLite database; `await db.dispose()` when done."""
        return InMemoryDatabaseService(plugin_id, skip_migrations=skip_migrations)

    @staticmethod
    def database_factory(*, skip_migrations: bool = False) -> ServiceFactory[DatabaseService]:
        return mock_database_factory(skip_migrations=skip_migrations)

    @staticmethod
    def permissions(decide: Decide | None = None) -> MockPermissionsService:
        """A `core.permissions` answering `decide(permission, resource_ref, credentials)`
        (default: ALLOW) and recording what it was asked."""
        return MockPermissionsService(decide)

    @staticmethod
    def permissions_factory(decide: Decide | None = None) -> ServiceFactory[PermissionsService]:
        return mock_permissions_factory(decide)

    @staticmethod
    def scheduler(plugin_id: str = "test", *, logger: LoggerService | None = None) -> MockScheduler:
        """A scheduler that records tasks and runs them on `trigger_task`."""
        return MockScheduler(plugin_id, logger=logger)

    @staticmethod
    def scheduler_factory(
        *,
        skip_task_run_on_startup: bool = False,
        include_manual_tasks_on_startup: bool = False,
        include_initial_delayed_tasks_on_startup: bool = False,
    ) -> ServiceFactory[SchedulerService]:
        return mock_scheduler_factory(
            skip_task_run_on_startup=skip_task_run_on_startup,
            include_manual_tasks_on_startup=include_manual_tasks_on_startup,
            include_initial_delayed_tasks_on_startup=include_initial_delayed_tasks_on_startup,
        )
