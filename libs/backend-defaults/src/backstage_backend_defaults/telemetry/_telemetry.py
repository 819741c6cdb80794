"""The backend's OpenTelemetry providers, built once when the backend starts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from backstage_backend_defaults.instrumentation import Instrumentation
from backstage_backend_defaults.telemetry._exporters import (
    metric_exporters,
    sampler,
    span_exporters,
)
from backstage_backend_defaults.telemetry._prometheus import PrometheusEndpoint, PrometheusSettings
from backstage_backend_defaults.telemetry._propagation import (
    check_propagators,
    text_map_propagator,
)

if TYPE_CHECKING:  # the SDK loads only when something is to be exported
    from opentelemetry.metrics import Meter
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

    from backstage_backend_defaults.telemetry._server_span import ServerSpans

__all__ = ["INSTRUMENTATION_NAME", "Telemetry", "TelemetryOptions", "build_telemetry"]

INSTRUMENTATION_NAME = "backstage_backend_defaults"


@dataclass(frozen=True)
class TelemetryOptions:
    """What a unit's entry point asks for.

    `env` holds the `OTEL_*` variables to read (None: read none, so nothing is exported).
    `span_exporter` and `metric_readers` add exporters of the caller's own (an in-memory
    exporter in tests), each span exported as it ends; with `span_exporter_batched`, the
    spans reach `span_exporter` in batches instead, through the batch processor that the
    `OTEL_*` exporters use. `span_processors` are added to the tracer provider after those:
    they see every span start and end, the requests' spans included. `instrument_httpx`
    traces outgoing httpx calls and injects trace context into them (process-wide).

    With `global_providers` (what a unit's entry point asks for) the providers become
    OpenTelemetry's global ones (`trace.set_tracer_provider`, `metrics.set_meter_provider`)
    and the `OTEL_PROPAGATORS` propagators the global propagator: spans and metrics that
    plugin code and OpenTelemetry's instrumentations make through the API are then exported
    with the backend's own, and outgoing calls carry the same headers that requests are read
    with. A process holds one set of globals: the first backend to install them keeps them.
    """

    unit: str = "backstage"
    version: str = "0.0.0"
    env: Mapping[str, str] | None = None
    span_exporter: SpanExporter | None = None
    span_exporter_batched: bool = False
    metric_readers: Sequence[MetricReader] = field(default_factory=tuple)
    span_processors: Sequence[SpanProcessor] = field(default_factory=tuple)
    instrument_httpx: bool = True
    global_providers: bool = False


class Telemetry(Instrumentation):
    """The backend's instrumentation: the tracer and meter (None where a signal is off) and
    the hooks on the core services that use them.

    With neither traces nor metrics configured both are None and no hook is registered, so
    the services take their plain code paths: no span, no counter, no per-request work.
    `server_spans` starts and ends each request's span through `tracer_provider`'s span
    processors; `propagator` reads the requests' trace context.
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        prometheus: PrometheusEndpoint | None = None,
        httpx_instrumented: bool = False,
        propagator: TextMapPropagator | None = None,
    ) -> None:
        super().__init__()
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.prometheus = prometheus
        self._httpx_instrumented = httpx_instrumented
        self.tracer: Tracer | None = None
        self.server_spans: ServerSpans | None = None
        if tracer_provider is not None:
            from backstage_backend_defaults.telemetry._server_span import ServerSpans

            self.tracer = tracer_provider.get_tracer(INSTRUMENTATION_NAME)
            self.server_spans = ServerSpans(tracer_provider, INSTRUMENTATION_NAME)
        self.meter: Meter | None = (
            meter_provider.get_meter(INSTRUMENTATION_NAME) if meter_provider else None
        )
        if self.enabled:
            from backstage_backend_defaults.telemetry._hooks import register_hooks

            register_hooks(self, self.tracer, self.meter, self.server_spans, propagator)

    @property
    def enabled(self) -> bool:
        return self.tracer is not None or self.meter is not None

    async def shutdown(self) -> None:
        """Flush what is pending and stop the exporters and the Prometheus endpoint."""
        if self._httpx_instrumented:
            from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

            HTTPXClientInstrumentor().uninstrument()
            self._httpx_instrumented = False
        if self.prometheus is not None:
            await self.prometheus.stop()
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()


def _resource(options: TelemetryOptions, env: Mapping[str, str]) -> Resource:
    from opentelemetry.sdk.resources import Resource

    attributes: dict[str, str] = {
        "service.name": env.get("OTEL_SERVICE_NAME") or options.unit,
        "service.version": options.version,
        "backstage.unit": options.unit,
    }
    return Resource.create(attributes)


def _instrument_httpx(tracer_provider: TracerProvider) -> bool:
    """Trace httpx calls; False when another backend of this process already does."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        return False
    instrumentor.instrument(tracer_provider=tracer_provider)
    return True


def _install_globals(
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
    propagator: TextMapPropagator,
) -> None:
    from opentelemetry import metrics, propagate, trace

    if tracer_provider is not None:
        trace.set_tracer_provider(tracer_provider)
        propagate.set_global_textmap(propagator)
    if meter_provider is not None:
        metrics.set_meter_provider(meter_provider)


def build_telemetry(
    options: TelemetryOptions, prometheus_settings: PrometheusSettings | None
) -> Telemetry:
    """Providers for the exporters asked for; a Telemetry with neither when none is."""
    env: Mapping[str, str] = options.env or {}
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        env = {}
    exporters = span_exporters(env)
    metric_exporters_asked = metric_exporters(env)
    check_propagators(env)  # even when nothing is traced
    prometheus = PrometheusEndpoint(prometheus_settings) if prometheus_settings else None
    if (
        not exporters
        and options.span_exporter is None
        and not options.span_processors
        and not metric_exporters_asked
        and not options.metric_readers
        and prometheus is None
    ):
        return Telemetry()
    propagator = text_map_propagator(env)
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    readers: list[MetricReader] = [
        PeriodicExportingMetricReader(exporter) for exporter in metric_exporters_asked
    ]
    readers.extend(options.metric_readers)
    if prometheus is not None:
        readers.append(prometheus.reader)
    resource = _resource(options, env)
    tracer_provider: TracerProvider | None = None
    processors: list[SpanProcessor] = [BatchSpanProcessor(exporter) for exporter in exporters]
    if options.span_exporter is not None:
        if options.span_exporter_batched:
            processors.append(BatchSpanProcessor(options.span_exporter))
        else:
            processors.append(SimpleSpanProcessor(options.span_exporter))
    processors.extend(options.span_processors)
    if processors:
        tracer_provider = TracerProvider(resource=resource, sampler=sampler(env))
        for processor in processors:
            tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(resource=resource, metric_readers=readers) if readers else None
    instrumented = False
    if tracer_provider is not None and options.instrument_httpx:
        instrumented = _instrument_httpx(tracer_provider)
    if options.global_providers:
        _install_globals(tracer_provider, meter_provider, propagator)
    if prometheus is not None:
        prometheus.start()
    return Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        prometheus=prometheus,
        httpx_instrumented=instrumented,
        propagator=propagator,
    )
