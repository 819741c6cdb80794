"""Telemetry's hooks on the core services, for the signals that are on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backstage_backend_defaults.cache import CACHE_HOOKS
from backstage_backend_defaults.database import DATABASE_HOOKS
from backstage_backend_defaults.event_loop import LAG_HOOKS
from backstage_backend_defaults.http_router import REQUEST_HOOKS
from backstage_backend_defaults.instrumentation import Instrumentation
from backstage_backend_defaults.scheduler import TASK_HOOKS

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.trace import Tracer

    from backstage_backend_defaults.telemetry._server_span import ServerSpans

__all__ = ["register_hooks"]

_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def register_hooks(
    instrumentation: Instrumentation,
    tracer: Tracer | None,
    meter: Meter | None,
    server_spans: ServerSpans | None,
    propagator: TextMapPropagator | None = None,
) -> None:
    """Register on `instrumentation` the hooks that trace (with `tracer`, and
    `server_spans` for requests, whose trace context `propagator` reads) and measure (with
    `meter`) requests, statements, cache calls and task runs, and record the event loop's
    lag."""
    from backstage_backend_defaults.telemetry._cache import CacheInstruments
    from backstage_backend_defaults.telemetry._database import DatabaseInstruments
    from backstage_backend_defaults.telemetry._http import RequestTelemetry
    from backstage_backend_defaults.telemetry._scheduler import TaskInstruments

    instrumentation.register(REQUEST_HOOKS, RequestTelemetry(server_spans, meter, propagator))
    instrumentation.register(DATABASE_HOOKS, DatabaseInstruments(tracer, meter))
    instrumentation.register(CACHE_HOOKS, CacheInstruments(tracer, meter))
    instrumentation.register(TASK_HOOKS, TaskInstruments(tracer, meter))
    if meter is not None:
        lag = meter.create_histogram(
            "backstage.event_loop.lag",
            unit="s",
            description="How late the event loop ran a callback that was due",
            explicit_bucket_boundaries_advisory=list(_LAG_BUCKETS),
        )
        instrumentation.register(LAG_HOOKS, lag.record)
