"""OpenTelemetry for the backend: traces, metrics, trace ids in log lines.

A unit's entry point (`backstage-py start`) builds the providers once, from the standard
`OTEL_*` variables (`OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`: `otlp`, `console` or
`none`, the default; `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`
`http/protobuf` or `grpc`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, ...), with the
unit's name as the service name, and installs the providers as OpenTelemetry's global ones
(`TelemetryOptions.global_providers`), so plugin code and instrumentation packages export
through them. The services then trace each incoming request, database statement, cache
call, outgoing httpx call (with the trace context of `OTEL_PROPAGATORS`: W3C by default,
B3) and scheduled task run, and count them. With nothing configured, no provider exists and
no service does any of it.

Config `backend.metrics.prometheus.{enabled,port,host}` serves the metrics at `/metrics`
on a port of their own (see `_prometheus`).
"""

from __future__ import annotations

from typing import Annotated, TypeAlias, cast

from backstage_backend_plugin_api import ServiceFactory, ServiceRef, create_service_factory
from backstage_backend_plugin_api import core_services as core

from backstage_backend_defaults.http_router import read_listen_options
from backstage_backend_defaults.instrumentation import Instrumentation, instrumentation_service_ref
from backstage_backend_defaults.logger import StructuredLogger
from backstage_backend_defaults.telemetry._exporters import exporter_names
from backstage_backend_defaults.telemetry._prometheus import (
    PrometheusEndpoint,
    PrometheusSettings,
    read_prometheus_settings,
)
from backstage_backend_defaults.telemetry._telemetry import (
    Telemetry,
    TelemetryOptions,
    build_telemetry,
)

__all__ = [
    "PrometheusEndpoint",
    "PrometheusSettings",
    "Telemetry",
    "TelemetryDep",
    "TelemetryOptions",
    "build_telemetry",
    "exporter_names",
    "read_prometheus_settings",
    "telemetry_service_factory",
    "telemetry_service_ref",
]

telemetry_service_ref = cast(ServiceRef[Telemetry], instrumentation_service_ref)
"""The backend's instrumentation service, which `telemetry_service_factory` provides: the
ref the core services depend on, typed as what the factory makes."""
TelemetryDep: TypeAlias = Annotated[Telemetry, telemetry_service_ref]


def telemetry_service_factory(
    options: TelemetryOptions | None = None,
) -> ServiceFactory[Instrumentation]:
    """The backend's instrumentation service: a `Telemetry` exporting, by default, only
    what the config asks for (Prometheus), with its hooks on the core services.

    Args:
        options: The unit's name and version, the `OTEL_*` variables to read, and exporters
            of the caller's own; `backstage-py start` passes the unit's name and the
            process's `OTEL_*` variables.
    """
    chosen = options or TelemetryOptions()

    async def factory(
        config: core.RootConfig, logger: core.RootLogger, lifecycle: core.RootLifecycle
    ) -> Instrumentation:
        settings = read_prometheus_settings(config, read_listen_options(config).host)
        telemetry = build_telemetry(chosen, settings)
        lifecycle.add_shutdown_hook(telemetry.shutdown)
        if telemetry.tracer is not None and isinstance(logger, StructuredLogger):
            from backstage_backend_defaults.telemetry._logging import trace_fields

            logger.sink.trace_context = trace_fields
        if telemetry.prometheus is not None:
            assert settings is not None
            logger.info(
                f"Serving Prometheus metrics on {settings.host}:{telemetry.prometheus.port}/metrics"
            )
        return telemetry

    return create_service_factory(
        service=instrumentation_service_ref, factory=factory, initialization="always"
    )
