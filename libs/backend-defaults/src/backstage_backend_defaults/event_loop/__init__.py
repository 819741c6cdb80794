"""The event loop lag monitor, a root service that runs in every backend.

A timer callback is due every `backend.eventLoopLag.interval` (default 20 ms); how late it
runs is how long the loop was blocked (by a callback that did not yield, or by a CPU shared
with busier processes). Each lag is recorded in the `backstage.event_loop.lag` histogram
when metrics are on, and a lag of `warnThreshold` (default 100 ms) or more is logged as a
warning (type `eventLoopLag`, at most one per `warnInterval`, default 10 s, the others
counted), with how long the loop's thread ran and waited for a CPU meanwhile.
`backend.eventLoopLag.enabled: false` turns it off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from backstage_backend_plugin_api import (
    ServiceFactory,
    ServiceRef,
    create_service_factory,
    create_service_ref,
)
from backstage_backend_plugin_api import core_services as core

from backstage_backend_defaults.event_loop._monitor import EventLoopLagMonitor, LagSample
from backstage_backend_defaults.event_loop._settings import (
    LagMonitorSettings,
    read_lag_monitor_settings,
)
from backstage_backend_defaults.instrumentation import HookPoint, InstrumentationDep

__all__ = [
    "LAG_HOOKS",
    "EventLoopLagMonitor",
    "LagMonitorSettings",
    "LagRecorder",
    "LagSample",
    "event_loop_lag_service_factory",
    "event_loop_lag_service_ref",
    "read_lag_monitor_settings",
]

LagRecorder: TypeAlias = Callable[[float], None]
"""Records one lag, in seconds."""

LAG_HOOKS: HookPoint[LagRecorder] = HookPoint("eventLoop.lag")
"""Where the lag recorder is registered; the monitor reads it when it is created."""

event_loop_lag_service_ref: ServiceRef[EventLoopLagMonitor | None] = create_service_ref(
    id="backstage-py.eventLoopLag", scope="root"
)


def _create_monitor(
    config: core.RootConfig,
    logger: core.RootLogger,
    lifecycle: core.RootLifecycle,
    instrumentation: InstrumentationDep,
) -> EventLoopLagMonitor | None:
    settings = read_lag_monitor_settings(config)
    if settings is None:
        return None
    monitor = EventLoopLagMonitor(
        settings, logger.child({"service": "eventLoop"}), instrumentation.get(LAG_HOOKS)
    )
    monitor.start()
    lifecycle.add_shutdown_hook(monitor.stop)
    return monitor


event_loop_lag_service_factory: ServiceFactory[EventLoopLagMonitor | None] = create_service_factory(
    service=event_loop_lag_service_ref, factory=_create_monitor, initialization="always"
)
