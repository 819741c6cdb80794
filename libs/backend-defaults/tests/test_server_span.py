"""Each request's server span: what reaches the exporter, who decides it is sampled, whose
child it is and whose parent, and how errors show on it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from backstage_backend_defaults.logger import StructuredLogger, create_root_logger
from backstage_backend_defaults.telemetry import (
    TelemetryDep,
    TelemetryOptions,
    telemetry_service_factory,
)
from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_common.errors import NotFoundError
from litestar import Response, get
from litestar.params import FromPath
from litestar.response import Stream
from opentelemetry import baggage, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, AlwaysRecordSampler, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode, TraceState

PLUGIN = "spans"
SCOPE = "backstage_backend_defaults"


def spans_plugin() -> BackendPlugin:
    """Routes that add to their span, start a child span, fail, or answer 5xx."""

    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core.HttpRouter, telemetry: TelemetryDep) -> None:
            tracer = telemetry.tracer

            @get("/items/{key:str}")
            async def item(key: FromPath[str]) -> dict[str, Any]:
                span = trace.get_current_span()
                span.set_attribute("app.sizes", [1, 2])
                span.add_event("looked up", {"app.key": key})
                assert tracer is not None
                await asyncio.sleep(0.01)  # concurrent requests interleave here
                with tracer.start_as_current_span("lookup", attributes={"app.key": key}):
                    pass
                return {"key": key, "baggage": baggage.get_baggage("tenant")}

            @get("/broken")
            async def broken() -> None:
                raise RuntimeError("broken on purpose")

            @get("/unavailable")
            async def unavailable() -> Response[str]:
                return Response("later", status_code=503)

            @get("/missing")
            async def missing() -> None:
                raise NotFoundError("no such thing")

            @get("/cut")
            async def cut() -> Stream:
                async def chunks() -> AsyncIterator[bytes]:
                    yield b"first"
                    raise RuntimeError("cut short")

                return Stream(chunks())

            router.use(item, broken, unavailable, missing, cut)
            for path in ("/items", "/broken", "/unavailable", "/missing", "/cut"):
                router.add_auth_policy(path=path, allow="unauthenticated")

        env.register_init(init)

    return create_backend_plugin(plugin_id=PLUGIN, register=register)


@dataclass
class Traced:
    test: TestBackend
    spans: InMemorySpanExporter
    lines: list[bytes]

    def finished(self, name: str | None = None) -> list[ReadableSpan]:
        found = self.spans.get_finished_spans()
        return [span for span in found if name is None or span.name == name]

    def request_lines(self) -> list[dict[str, Any]]:
        entries = [json.loads(line) for line in self.lines]
        return [entry for entry in entries if entry.get("type") == "incomingRequest"]


@asynccontextmanager
async def traced_backend(env: Mapping[str, str] | None = None) -> AsyncIterator[Traced]:
    spans = InMemorySpanExporter()
    lines: list[bytes] = []

    def root_logger(config: core.RootConfig) -> StructuredLogger:
        return create_root_logger(config, write=lines.append, env={})

    features = [
        spans_plugin(),
        create_service_factory(service=core.root_logger, factory=root_logger),
        telemetry_service_factory(
            TelemetryOptions(
                unit="spans-unit", env=env or {}, span_exporter=spans, instrument_httpx=False
            )
        ),
    ]
    config = {"backend": {"logging": {"format": "json", "level": "info"}}}
    async with start_test_backend(features=features, config=config) as test:
        yield Traced(test, spans, lines)


def traceparent(trace_id: int, span_id: int, *, sampled: bool) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"


def only(spans: Sequence[ReadableSpan]) -> ReadableSpan:
    assert len(spans) == 1, spans
    return spans[0]


async def test_a_request_span_reaches_the_exporter_with_the_backends_attributes() -> None:
    async with traced_backend() as traced:
        response = await traced.test.client.get(f"/api/{PLUGIN}/items/a")
    assert response.status_code == 200
    server = only(traced.finished(f"GET /api/{PLUGIN}/items/{{key}}"))
    assert server.kind is SpanKind.SERVER
    port = int(traced.test.base_url.rsplit(":", 1)[1])
    assert dict(server.attributes or {}) == {
        "http.request.method": "GET",
        "url.path": f"/api/{PLUGIN}/items/a",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
        "server.address": "127.0.0.1",
        "server.port": port,
        "client.address": "127.0.0.1",
        "user_agent.original": f"python-httpx/{httpx.__version__}",
        "backstage.plugin_id": PLUGIN,
        "http.route": f"/api/{PLUGIN}/items/{{key}}",
        "http.response.status_code": 200,
        "app.sizes": (1, 2),  # set by the handler, checked as the SDK checks (a tuple)
    }
    assert server.status.status_code is StatusCode.UNSET
    assert server.parent is None
    assert server.context is not None
    assert server.context.trace_flags.sampled
    assert server.start_time is not None
    assert server.end_time is not None
    assert server.start_time <= server.end_time
    assert server.resource.attributes["service.name"] == "spans-unit"
    assert server.instrumentation_scope is not None
    assert server.instrumentation_scope.name == SCOPE
    [event] = server.events
    assert (event.name, dict(event.attributes or {})) == ("looked up", {"app.key": "a"})
    # the handler's span is its child, from the same tracer scope
    child = only(traced.finished("lookup"))
    assert child.parent is not None
    assert child.context is not None
    assert child.parent.span_id == server.context.span_id
    assert child.context.trace_id == server.context.trace_id
    assert child.instrumentation_scope == server.instrumentation_scope
    # and the request's log line carries the span's ids
    [line] = traced.request_lines()
    assert line["trace_id"] == trace.format_trace_id(server.context.trace_id)
    assert line["span_id"] == trace.format_span_id(server.context.span_id)


async def test_concurrent_requests_each_parent_their_own_children() -> None:
    keys = [f"k{number}" for number in range(8)]
    async with traced_backend() as traced:
        client = traced.test.client
        responses = await asyncio.gather(*(client.get(f"/api/{PLUGIN}/items/{k}") for k in keys))
    assert all(response.status_code == 200 for response in responses)
    servers = {
        span.attributes["url.path"].rsplit("/", 1)[1]: span
        for span in traced.finished(f"GET /api/{PLUGIN}/items/{{key}}")
        if span.attributes is not None
    }
    children = {
        child.attributes["app.key"]: child
        for child in traced.finished("lookup")
        if child.attributes is not None
    }
    assert sorted(servers) == sorted(children) == sorted(keys)
    for key in keys:
        server, child = servers[key], children[key]
        assert server.context is not None
        assert child.parent is not None
        assert child.parent.span_id == server.context.span_id
    # and each request's log line carries its own span's ids
    logged = {line["url"].rsplit("/", 1)[1]: line["span_id"] for line in traced.request_lines()}
    for key in keys:
        context = servers[key].context
        assert context is not None
        assert logged[key] == trace.format_span_id(context.span_id)


async def test_a_server_error_is_an_error_span_with_the_exception() -> None:
    async with traced_backend() as traced:
        client = traced.test.client
        assert (await client.get(f"/api/{PLUGIN}/broken")).status_code == 500
        assert (await client.get(f"/api/{PLUGIN}/unavailable")).status_code == 503
        assert (await client.get(f"/api/{PLUGIN}/missing")).status_code == 404
        assert (await client.get(f"/api/{PLUGIN}/nowhere")).status_code == 404
    broken = only(traced.finished(f"GET /api/{PLUGIN}/broken"))
    assert broken.status.status_code is StatusCode.ERROR
    assert broken.attributes is not None
    assert broken.attributes["http.response.status_code"] == 500
    [event] = broken.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "RuntimeError"
    assert event.attributes["exception.message"] == "broken on purpose"
    assert "broken on purpose" in str(event.attributes["exception.stacktrace"])

    unavailable = only(traced.finished(f"GET /api/{PLUGIN}/unavailable"))
    assert unavailable.status.status_code is StatusCode.ERROR
    assert unavailable.events == ()
    # client errors are no errors of the server's
    missing = only(traced.finished(f"GET /api/{PLUGIN}/missing"))
    assert missing.status.status_code is StatusCode.UNSET
    assert missing.events == ()
    # no route matched: the span keeps the method as its name, and has no route
    [unmatched] = [s for s in traced.finished("GET") if s.kind is SpanKind.SERVER]
    assert unmatched.attributes is not None
    assert unmatched.attributes["url.path"] == f"/api/{PLUGIN}/nowhere"
    assert unmatched.attributes["http.response.status_code"] == 404
    assert "http.route" not in unmatched.attributes


async def test_an_exception_after_the_response_started_is_recorded() -> None:
    async with traced_backend() as traced:
        async with traced.test.client.stream("GET", f"/api/{PLUGIN}/cut") as response:
            assert response.status_code == 200
            with contextlib.suppress(httpx.HTTPError):  # the body is cut short
                await response.aread()
        server = only(traced.finished(f"GET /api/{PLUGIN}/cut"))
    [event] = server.events
    assert event.attributes is not None
    assert event.name == "exception"
    assert "cut short" in str(event.attributes["exception.stacktrace"])
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 200


async def test_the_callers_trace_context_is_the_parent() -> None:
    trace_id, parent_id = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
    headers = {
        "traceparent": traceparent(trace_id, parent_id, sampled=True),
        "tracestate": "vendor=opaque",
        "baggage": "tenant=acme",
    }
    async with traced_backend() as traced:
        response = await traced.test.client.get(f"/api/{PLUGIN}/items/b", headers=headers)
    assert response.json() == {"key": "b", "baggage": "acme"}  # the caller's baggage too
    server = only(traced.finished(f"GET /api/{PLUGIN}/items/{{key}}"))
    assert server.context is not None
    assert server.parent is not None
    assert server.context.trace_id == trace_id
    assert server.context.span_id != parent_id
    assert server.context.trace_state == TraceState([("vendor", "opaque")])
    assert server.parent.span_id == parent_id
    assert server.parent.is_remote
    child = only(traced.finished("lookup"))
    assert child.context is not None
    assert child.parent is not None
    assert child.context.trace_id == trace_id
    assert child.parent.span_id == server.context.span_id


async def test_the_configured_sampler_decides_which_requests_are_exported() -> None:
    env = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}
    ratio = TraceIdRatioBased(0.5)
    async with traced_backend(env) as traced:
        for number in range(40):
            assert (await traced.test.client.get(f"/api/{PLUGIN}/items/{number}")).is_success
    # every request's log line has its trace id, sampled or not
    logged = [int(line["trace_id"], 16) for line in traced.request_lines()]
    assert len(set(logged)) == 40
    wanted = {trace_id for trace_id in logged if trace_id & ratio.TRACE_ID_LIMIT < ratio.bound}
    exported = {
        span.context.trace_id
        for span in traced.finished()
        if span.kind is SpanKind.SERVER and span.context is not None
    }
    assert exported == wanted
    assert 0 < len(exported) < 40  # one chance in 2**39 of failing


async def test_a_remote_parents_sampled_flag_wins_over_the_ratio() -> None:
    env = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    sampled_trace, unsampled_trace = 0x1111, 0x2222
    async with traced_backend(env) as traced:
        client = traced.test.client
        path = f"/api/{PLUGIN}/items/c"
        await client.get(path, headers={"traceparent": traceparent(sampled_trace, 1, sampled=True)})
        await client.get(
            path, headers={"traceparent": traceparent(unsampled_trace, 2, sampled=False)}
        )
        await client.get(path)
    server = only([s for s in traced.finished() if s.kind is SpanKind.SERVER])
    assert server.context is not None
    assert server.context.trace_id == sampled_trace
    child = only(traced.finished("lookup"))
    assert child.context is not None
    assert child.context.trace_id == sampled_trace
    # the unsampled request still logs its trace id, for logs to meet the caller's trace
    logged = [int(line["trace_id"], 16) for line in traced.request_lines()]
    assert logged[:2] == [sampled_trace, unsampled_trace]


class Collected(SimpleSpanProcessor):
    """Counts what reaches a processor, exported or not."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        super().__init__(exporter)
        self.ended: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)
        super().on_end(span)


def _server_spans(sampler: Any) -> tuple[Any, Collected, InMemorySpanExporter]:
    from backstage_backend_defaults.telemetry._server_span import ServerSpans

    exporter = InMemorySpanExporter()
    processor = Collected(exporter)
    provider = TracerProvider(sampler=sampler, shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return ServerSpans(provider, SCOPE), processor, exporter


def test_a_record_only_decision_reaches_the_processors_but_not_the_exporter() -> None:
    spans, processor, exporter = _server_spans(AlwaysRecordSampler(ALWAYS_OFF))
    span = spans.start("GET", {"http.request.method": "GET"}, None)
    assert span.is_recording()
    assert not span.get_span_context().trace_flags.sampled
    span.end_request("GET", "/api/x", 200)
    assert [ended.name for ended in processor.ended] == ["GET /api/x"]
    assert exporter.get_finished_spans() == ()


def test_the_span_api_behaves_as_the_sdks() -> None:
    spans, _, exporter = _server_spans(None)
    sdk_exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(sdk_exporter))
    ours = spans.start("GET", {"http.request.method": "GET"}, None)
    theirs = provider.get_tracer(SCOPE).start_span("GET", attributes={"http.request.method": "GET"})
    for span in (ours, theirs):
        span.update_name("custom")
        span.set_status(Status(StatusCode.OK))
        span.set_status(StatusCode.ERROR)  # OK is final
        span.set_attributes({"app.count": 3, "app.names": ["a", "b"], "app.map": {"k": "v"}})
        span.set_attribute("app.odd", object())  # type: ignore[arg-type]
        span.add_event("noted", {"app.sizes": [1, 2]}, timestamp=5)
        span.record_exception(ValueError("bad value"), escaped=True)
    ours.end_request("GET", "", 500)  # no route: the name set before stays
    theirs.set_attribute("http.response.status_code", 500)
    theirs.end()
    for span in (ours, theirs):
        span.set_attribute("app.late", 1)  # ignored once ended
        span.end()  # a second end changes nothing
        assert not span.is_recording()
    [exported] = exporter.get_finished_spans()
    [expected] = sdk_exporter.get_finished_spans()
    assert exported.name == expected.name == "custom"
    assert exported.status.status_code is expected.status.status_code is StatusCode.OK
    assert dict(exported.attributes or {}) == dict(expected.attributes or {})
    assert len(exported.attributes or {}) == 6
    assert [(e.name, dict(e.attributes or {})) for e in exported.events] == [
        (e.name, dict(e.attributes or {})) for e in expected.events
    ]
    assert exported.events[0].timestamp == 5
    provider.shutdown()


def test_an_ended_span_reads_as_an_sdk_span_does() -> None:
    spans, _, exporter = _server_spans(None)
    span = spans.start("GET", {"http.request.method": "GET"}, None)
    ids = span.log_fields
    span.end_request("GET", "/api/x", 200)
    [exported] = exporter.get_finished_spans()
    assert exported is span
    described = json.loads(exported.to_json())
    assert described["context"]["trace_id"] == f"0x{ids['trace_id']}"
    assert described["context"]["span_id"] == f"0x{ids['span_id']}"
    assert described["kind"] == str(SpanKind.SERVER)
    assert described["attributes"]["http.route"] == "/api/x"
    assert described["resource"]["attributes"] == dict(exported.resource.attributes)
    assert exported.instrumentation_scope is not None
    assert exported.instrumentation_scope.name == SCOPE
    assert exported.get_span_context() is exported.context
    assert exported.context.trace_flags.sampled
