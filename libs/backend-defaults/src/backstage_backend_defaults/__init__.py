"""backstage_backend_defaults: `create_backend()` and the default core services."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from backstage_backend_plugin_api import ServiceFactory

from backstage_backend_defaults._wiring.backend import Backend, BackendFeature
from backstage_backend_defaults._wiring.errors import (
    BackendStartupError,
    FeatureStartupFailure,
    ServiceInstantiationError,
)
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_defaults.cache import cache_service_factory
from backstage_backend_defaults.database import database_service_factory
from backstage_backend_defaults.discovery import discovery_service_factory
from backstage_backend_defaults.event_loop import event_loop_lag_service_factory
from backstage_backend_defaults.health import root_health_service_factory
from backstage_backend_defaults.http_router import (
    http_router_service_factory,
    root_http_router_service_factory,
)
from backstage_backend_defaults.lifecycle import (
    lifecycle_service_factory,
    root_lifecycle_service_factory,
)
from backstage_backend_defaults.logger import logger_service_factory, root_logger_service_factory
from backstage_backend_defaults.permissions import (
    permissions_registry_service_factory,
    permissions_service_factory,
)
from backstage_backend_defaults.root_config import root_config_service_factory
from backstage_backend_defaults.scheduler import scheduler_service_factory
from backstage_backend_defaults.telemetry import telemetry_service_factory
from backstage_backend_defaults.url_reader import url_reader_service_factory

__all__ = [
    "Backend",
    "BackendFeature",
    "BackendStartupError",
    "FeatureStartupFailure",
    "ServiceInstantiationError",
    "create_backend",
    "default_service_factories",
]


def default_service_factories(
    *,
    config_paths: Sequence[str | Path] = (),
    config_data: Mapping[str, Any] | None = None,
) -> list[ServiceFactory[Any]]:
    """Every default factory."""
    return [
        root_config_service_factory(paths=config_paths, data=config_data),
        root_logger_service_factory,
        logger_service_factory,
        root_lifecycle_service_factory,
        lifecycle_service_factory,
        root_health_service_factory,
        root_http_router_service_factory,
        http_router_service_factory,
        discovery_service_factory,
        auth_service_factory,
        http_auth_service_factory,
        cache_service_factory,
        database_service_factory,
        scheduler_service_factory,
        permissions_service_factory,
        permissions_registry_service_factory,
        telemetry_service_factory(),
        event_loop_lag_service_factory,
        url_reader_service_factory,
    ]


def create_backend(
    *,
    config_paths: Sequence[str | Path] = (),
    config_data: Mapping[str, Any] | None = None,
) -> Backend:
    """A backend with every default service; add features, then `await backend.start()`."""
    return Backend(default_service_factories(config_paths=config_paths, config_data=config_data))
