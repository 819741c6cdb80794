"""Telemetry by OpenTelemetry's conventions: the providers installed as the global ones (so
plugin code's spans and metrics are exported with the backend's), `OTEL_PROPAGATORS`
(W3C by default, B3), and span processors that see each request's span start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from backstage_backend_defaults.telemetry import (
    TelemetryDep,
    TelemetryOptions,
    build_telemetry,
    telemetry_service_factory,
)
from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_common.errors import InputError
from litestar import get
from opentelemetry import context as context_api
from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

PLUGIN = "conventions"


@pytest.fixture
def fresh_globals() -> Iterator[None]:
    """OpenTelemetry's globals as in a new process (they are set once per process), and
    back as they were after the test."""
    saved = (
        trace._TRACER_PROVIDER_SET_ONCE,
        trace._TRACER_PROVIDER,
        metrics_internal._METER_PROVIDER_SET_ONCE,
        metrics_internal._METER_PROVIDER,
        propagate.get_global_textmap(),
    )
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    yield
    (
        trace._TRACER_PROVIDER_SET_ONCE,
        trace._TRACER_PROVIDER,
        metrics_internal._METER_PROVIDER_SET_ONCE,
        metrics_internal._METER_PROVIDER,
        textmap,
    ) = saved
    propagate.set_global_textmap(textmap)


@dataclass
class Captured:
    """What a loopback server received: the headers of each request."""

    requests: list[dict[str, str]] = field(default_factory=list)


@asynccontextmanager
async def header_capture() -> AsyncIterator[tuple[str, Captured]]:
    captured = Captured()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")[1:]
        captured.requests.append(
            {k.strip().lower(): v.strip() for k, _, v in (li.partition(":") for li in lines if li)}
        )
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", captured
    finally:
        server.close()
        await server.wait_closed()


def conventions_plugin(outgoing_url: str = "") -> BackendPlugin:
    """`GET /work`: a span and a counter through the OpenTelemetry API's globals, as any
    plugin or library would make them; `GET /call`: an outgoing httpx call."""

    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core.HttpRouter, telemetry: TelemetryDep) -> None:
            tracer = trace.get_tracer("conventions.plugin")  # the global provider's
            counter = metrics.get_meter("conventions.plugin").create_counter("plugin.work")

            @get("/work")
            async def work() -> dict[str, str]:
                with tracer.start_as_current_span("plugin work"):
                    counter.add(1, {"kind": "test"})
                return {"done": "yes"}

            @get("/call")
            async def call() -> dict[str, str]:
                async with httpx.AsyncClient() as client:
                    await client.get(outgoing_url)
                return {"called": "yes"}

            router.use(work, call)
            for path in ("/work", "/call"):
                router.add_auth_policy(path=path, allow="unauthenticated")

        env.register_init(init)

    return create_backend_plugin(plugin_id=PLUGIN, register=register)


@dataclass
class Run:
    test: TestBackend
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def finished(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans.get_finished_spans() if span.name == name]


@asynccontextmanager
async def backend(
    env: Mapping[str, str] | None = None,
    *,
    global_providers: bool = True,
    outgoing_url: str = "",
    span_processors: Sequence[SpanProcessor] = (),
    instrument_httpx: bool = False,
) -> AsyncIterator[Run]:
    spans = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    options = TelemetryOptions(
        unit="conventions",
        env=env or {},
        span_exporter=spans,
        metric_readers=[reader],
        span_processors=span_processors,
        instrument_httpx=instrument_httpx,
        global_providers=global_providers,
    )
    features = [conventions_plugin(outgoing_url), telemetry_service_factory(options)]
    async with start_test_backend(features=features) as test:
        yield Run(test, spans, reader)


def request_span(run: Run, path: str) -> ReadableSpan:
    [span] = run.finished(f"GET /api/{PLUGIN}/{path}")
    return span


def counted(reader: InMemoryMetricReader, name: str) -> int:
    data = reader.get_metrics_data()
    assert data is not None
    return sum(
        point.value  # type: ignore[union-attr]
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    )


async def test_plugin_spans_and_metrics_through_the_global_api_are_exported_with_ours(
    fresh_globals: None,
) -> None:
    async with backend() as run:
        response = await run.test.client.get(f"/api/{PLUGIN}/work")
        assert response.status_code == 200
        telemetry = await run.test.get_service(telemetry_service_factory().service)
        # what instrumentations and libraries find through the API
        assert trace.get_tracer_provider() is telemetry.tracer_provider
        assert metrics.get_meter_provider() is telemetry.meter_provider
        assert counted(run.reader, "plugin.work") == 1
    server = request_span(run, "work")
    [child] = run.finished("plugin work")
    assert child.parent is not None
    assert server.context is not None
    assert child.context is not None
    assert child.parent.span_id == server.context.span_id  # a child of the request's span
    assert child.context.trace_id == server.context.trace_id
    assert child.instrumentation_scope is not None
    assert child.instrumentation_scope.name == "conventions.plugin"


async def test_without_global_providers_the_globals_are_left_alone(fresh_globals: None) -> None:
    async with backend(global_providers=False) as run:
        await run.test.client.get(f"/api/{PLUGIN}/work")
        assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert run.finished("plugin work") == []  # the API's no-op tracer: not ours


TRACE_ID, PARENT_ID = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331


@pytest.mark.parametrize(
    ("env", "headers"),
    [
        ({}, {"traceparent": f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"}),
        (
            {"OTEL_PROPAGATORS": "tracecontext"},
            {"traceparent": f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"},
        ),
        ({"OTEL_PROPAGATORS": "b3"}, {"b3": f"{TRACE_ID:032x}-{PARENT_ID:016x}-1"}),
        (
            {"OTEL_PROPAGATORS": "b3multi"},
            {
                "X-B3-TraceId": f"{TRACE_ID:032x}",
                "X-B3-SpanId": f"{PARENT_ID:016x}",
                "X-B3-Sampled": "1",
            },
        ),
        (
            {"OTEL_PROPAGATORS": "tracecontext,b3"},
            {"b3": f"{TRACE_ID:032x}-{PARENT_ID:016x}-1"},
        ),
    ],
    ids=["default-w3c", "tracecontext", "b3", "b3multi", "w3c-and-b3"],
)
async def test_incoming_trace_context_is_read_with_the_configured_propagators(
    fresh_globals: None, env: dict[str, str], headers: dict[str, str]
) -> None:
    async with backend(env) as run:
        await run.test.client.get(f"/api/{PLUGIN}/work", headers=headers)
    server = request_span(run, "work")
    assert server.context is not None
    assert server.parent is not None
    assert server.context.trace_id == TRACE_ID
    assert server.parent.span_id == PARENT_ID


@pytest.mark.parametrize(
    ("env", "headers"),
    [
        ({"OTEL_PROPAGATORS": "b3"}, {"traceparent": f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"}),
        ({}, {"b3": f"{TRACE_ID:032x}-{PARENT_ID:016x}-1"}),
        ({"OTEL_PROPAGATORS": "none"}, {"traceparent": f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"}),
    ],
    ids=["b3-ignores-w3c", "w3c-ignores-b3", "none"],
)
async def test_headers_of_other_propagators_start_a_trace_of_their_own(
    fresh_globals: None, env: dict[str, str], headers: dict[str, str]
) -> None:
    async with backend(env) as run:
        await run.test.client.get(f"/api/{PLUGIN}/work", headers=headers)
    server = request_span(run, "work")
    assert server.parent is None
    assert server.context is not None
    assert server.context.trace_id != TRACE_ID


@pytest.mark.parametrize(
    ("env", "expected", "absent"),
    [
        ({}, {"traceparent"}, {"b3", "x-b3-traceid"}),
        ({"OTEL_PROPAGATORS": "b3"}, {"b3"}, {"traceparent"}),
        ({"OTEL_PROPAGATORS": "b3multi"}, {"x-b3-traceid", "x-b3-spanid"}, {"traceparent", "b3"}),
    ],
    ids=["w3c", "b3", "b3multi"],
)
async def test_outgoing_calls_carry_the_configured_propagators_headers(
    fresh_globals: None, env: dict[str, str], expected: set[str], absent: set[str]
) -> None:
    async with (
        header_capture() as (url, captured),
        backend(env, outgoing_url=url, instrument_httpx=True) as run,
    ):
        response = await run.test.client.get(f"/api/{PLUGIN}/call")
        assert response.status_code == 200
    [sent] = captured.requests
    assert expected <= set(sent)
    assert not absent & set(sent)
    server = request_span(run, "call")
    assert server.context is not None
    trace_hex = f"{server.context.trace_id:032x}"
    carried = sent.get("traceparent") or sent.get("b3") or sent.get("x-b3-traceid") or ""
    assert trace_hex in carried  # the request's trace goes on in the call


def test_an_unknown_propagator_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="Invalid propagator 'jaegr' in OTEL_PROPAGATORS"):
        build_telemetry(TelemetryOptions(env={"OTEL_PROPAGATORS": "tracecontext,jaegr"}), None)


class StartSeen(SpanProcessor):
    """Records the spans it sees start (with their parent context) and end, and tags each
    span at its start, as processors that enrich spans do."""

    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any], context_api.Context | None]] = []
        self.ended: list[str] = []

    def on_start(self, span: Span, parent_context: context_api.Context | None = None) -> None:
        self.started.append((span.name, dict(span.attributes or {}), parent_context))
        span.set_attribute("app.tenant", "acme")

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span.name)


async def test_span_processors_see_each_request_span_start_and_end(fresh_globals: None) -> None:
    seen = StartSeen()
    headers = {"traceparent": f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"}
    async with backend(span_processors=[seen]) as run:
        await run.test.client.get(f"/api/{PLUGIN}/work", headers=headers)
    [(name, attributes, parent), child_start] = seen.started
    assert name == "GET"  # named after the route once it is matched, at the end
    assert attributes["http.request.method"] == "GET"
    assert attributes["url.path"] == f"/api/{PLUGIN}/work"
    assert parent is not None
    assert trace.get_current_span(parent).get_span_context().span_id == PARENT_ID
    assert child_start[0] == "plugin work"
    assert seen.ended == ["plugin work", f"GET /api/{PLUGIN}/work"]
    server = request_span(run, "work")
    assert (server.attributes or {})["app.tenant"] == "acme"  # set in on_start, exported


async def test_a_processor_added_to_the_global_provider_later_sees_the_next_requests(
    fresh_globals: None,
) -> None:
    seen = StartSeen()
    async with backend() as run:
        await run.test.client.get(f"/api/{PLUGIN}/work")
        provider = trace.get_tracer_provider()
        provider.add_span_processor(seen)  # type: ignore[attr-defined]  # the SDK's provider
        await run.test.client.get(f"/api/{PLUGIN}/work")
    assert [name for name, _, _ in seen.started] == ["GET", "plugin work"]
    assert seen.ended == ["plugin work", f"GET /api/{PLUGIN}/work"]


async def test_request_spans_carry_the_http_conventions_attributes(fresh_globals: None) -> None:
    async with backend() as run:
        await run.test.client.get(
            f"/api/{PLUGIN}/work", headers={"User-Agent": "backstage-cli/1.2 (linux)"}
        )
        await run.test.client.get(
            f"/api/{PLUGIN}/work", headers={"Host": "[::1]:7443", "User-Agent": "x"}
        )
        port = int(run.test.base_url.rsplit(":", 1)[1])
    first, second = run.finished(f"GET /api/{PLUGIN}/work")
    attributes = dict(first.attributes or {})
    assert {key: attributes[key] for key in CONVENTIONS} == {
        "url.scheme": "http",
        "server.address": "127.0.0.1",
        "server.port": port,
        "client.address": "127.0.0.1",
        "user_agent.original": "backstage-cli/1.2 (linux)",
        "network.protocol.version": "1.1",
    }
    assert (second.attributes or {})["server.address"] == "::1"
    assert (second.attributes or {})["server.port"] == 7443


CONVENTIONS = (
    "url.scheme",
    "server.address",
    "server.port",
    "client.address",
    "user_agent.original",
    "network.protocol.version",
)


async def test_an_instrumentation_set_up_on_its_own_exports_with_the_backend(
    fresh_globals: None,
) -> None:
    """As a plugin or a deployment would add an OpenTelemetry instrumentation package: it
    is given no provider, so it takes the global ones."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    async with header_capture() as (url, captured), backend(outgoing_url=url) as run:
        instrumentor = HTTPXClientInstrumentor()
        instrumentor.instrument()  # no tracer or meter provider: the globals
        try:
            response = await run.test.client.get(f"/api/{PLUGIN}/call")
            assert response.status_code == 200
            # the histogram under its pre-stable name, which the package still defaults to
            assert counted_points(run.reader, "http.client.duration") >= 1
        finally:
            instrumentor.uninstrument()
    server = request_span(run, "call")
    assert server.context is not None
    # the route's call, a child of the request's span (the test's own request to the route
    # is traced too, as the instrumentation patches every httpx client)
    [client] = [
        span
        for span in run.spans.get_finished_spans()
        if span.kind is trace.SpanKind.CLIENT
        and span.parent is not None
        and span.parent.span_id == server.context.span_id
    ]
    assert client.instrumentation_scope is not None
    assert client.instrumentation_scope.name == "opentelemetry.instrumentation.httpx"
    [sent] = captured.requests
    assert f"{server.context.trace_id:032x}" in sent["traceparent"]


def counted_points(reader: InMemoryMetricReader, name: str) -> int:
    """How many data points (of any kind) the reader holds for metric `name`."""
    data = reader.get_metrics_data()
    if data is None:
        return 0
    return sum(
        len(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
    )


def test_each_request_span_has_its_own_clients_attributes_however_many_clients() -> None:
    """The attributes clients share are parsed once per client kind, in a bounded table:
    hundreds of distinct user agents still each end up on their own request's span."""
    from backstage_backend_defaults.telemetry._http import RequestTelemetry
    from backstage_backend_defaults.telemetry._server_span import ServerSpans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    requests = RequestTelemetry(ServerSpans(provider, "test"), None)
    for number in range(600):
        scope = {
            "method": "GET",
            "path": "/api/x",
            "scheme": "https" if number % 2 else "http",
            "http_version": "1.1",
            "headers": [
                (b"host", f"h{number % 3}.example:{8000 + number % 3}".encode()),
                (b"user-agent", f"agent/{number}".encode()),
            ],
            "client": (f"10.0.0.{number % 250}", 40000),
        }
        requests.end(requests.start(scope, "x"), scope, 200, 0.001, "x")
    spans = exporter.get_finished_spans()
    assert len(spans) == 600
    for number, span in enumerate(spans):
        attributes = dict(span.attributes or {})
        assert attributes["user_agent.original"] == f"agent/{number}"
        assert attributes["url.scheme"] == ("https" if number % 2 else "http")
        assert attributes["server.address"] == f"h{number % 3}.example"
        assert attributes["server.port"] == 8000 + number % 3
        assert attributes["client.address"] == f"10.0.0.{number % 250}"
    assert len(requests._known) <= 256
    provider.shutdown()
