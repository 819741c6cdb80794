"""core.rootLifecycle and core.lifecycle: startup and shutdown hooks."""

from __future__ import annotations

from datetime import timedelta

from backstage_backend_plugin_api import core_services as core
from backstage_backend_plugin_api import create_service_factory
from backstage_common.durations import read_optional_duration

from backstage_backend_defaults.lifecycle._lifecycle import BackendLifecycle, PluginLifecycle

__all__ = [
    "BackendLifecycle",
    "PluginLifecycle",
    "lifecycle_service_factory",
    "root_lifecycle_service_factory",
]


def _create_root_lifecycle(config: core.RootConfig, logger: core.RootLogger) -> BackendLifecycle:
    delay = read_optional_duration(config, "backend.lifecycle.serverShutdownDelay")
    timeout = read_optional_duration(config, "backend.lifecycle.shutdownTimeout")
    return BackendLifecycle(
        logger.child({"service": "lifecycle"}),
        shutdown_delay=delay or timedelta(0),
        shutdown_timeout=timedelta(seconds=30) if timeout is None else timeout,
    )


def _create_lifecycle(logger: core.Logger, root: core.RootLifecycle) -> PluginLifecycle:
    return PluginLifecycle(logger, root=root if isinstance(root, BackendLifecycle) else None)


root_lifecycle_service_factory = create_service_factory(
    service=core.root_lifecycle, factory=_create_root_lifecycle
)
lifecycle_service_factory = create_service_factory(
    service=core.lifecycle, factory=_create_lifecycle
)
