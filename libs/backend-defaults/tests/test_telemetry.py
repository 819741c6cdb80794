"""OpenTelemetry: set up from OTEL_* variables by the unit's entry point, one trace per
request with its statements, cache calls and log lines, and the metrics on Prometheus."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from backstage_backend_defaults.logger import StructuredLogger, create_root_logger
from backstage_backend_defaults.scheduler import scheduler_service_factory
from backstage_backend_defaults.telemetry import (
    TelemetryOptions,
    build_telemetry,
    read_prometheus_settings,
    telemetry_service_factory,
    telemetry_service_ref,
)
from backstage_backend_defaults.telemetry._exporters import (
    metric_exporters,
    sampler,
    span_exporters,
)
from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    ServiceFactory,
    create_backend_plugin,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import require_service_url, start_test_backend
from backstage_common.config import Config
from backstage_common.errors import InputError
from litestar import get
from litestar.params import FromPath
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id


def json_root_logger(lines: list[bytes]) -> ServiceFactory[Any]:
    """The default root logger, JSON at info level, writing into `lines`."""

    def factory(config: core.RootConfig) -> StructuredLogger:
        return create_root_logger(config, write=lines.append, env={})

    return create_service_factory(service=core.root_logger, factory=factory)


def things_plugin(plugin_id: str = "things") -> BackendPlugin:
    """`GET /things/{key}`: logs, reads the cache (filling it on a miss) and the database."""

    def register(env: PluginRegistrationPoints) -> None:
        async def init(
            router: core.HttpRouter,
            cache: core.Cache,
            database: core.Database,
            logger: core.Logger,
        ) -> None:
            @get("/things/{key:str}")
            async def thing(key: FromPath[str]) -> dict[str, Any]:
                logger.info(f"Looking up {key}")
                cached = await cache.get(key)
                if cached is None:
                    await cache.set(key, {"key": key})
                engine = await database.get_engine()
                async with engine.connect() as connection:
                    answer = (await connection.execute(sa.text("SELECT 41 + 1"))).scalar()
                return {"key": key, "cached": cached is not None, "answer": answer}

            router.use(thing)
            router.add_auth_policy(path="/things", allow="unauthenticated")

        env.register_init(init)

    return create_backend_plugin(plugin_id=plugin_id, register=register)


def by_name(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def test_without_otel_variables_nothing_is_set_up() -> None:
    assert not build_telemetry(TelemetryOptions(unit="catalog", env={}), None).enabled
    assert not build_telemetry(TelemetryOptions(unit="catalog"), None).enabled
    disabled = {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}
    assert not build_telemetry(TelemetryOptions(env=disabled), None).enabled


async def test_a_backend_without_telemetry_serves_the_plain_app_and_plain_log_lines() -> None:
    lines: list[bytes] = []
    config = {"backend": {"logging": {"format": "json", "level": "info"}}}
    features = [things_plugin(), json_root_logger(lines)]
    async with start_test_backend(features=features, config=config) as test:
        telemetry = await test.backend.get_service(telemetry_service_ref)
        response = await test.client.get("/api/things/things/a")
    assert response.status_code == 200
    assert not telemetry.enabled
    entries = [json.loads(line) for line in lines]
    assert any(entry.get("type") == "incomingRequest" for entry in entries)
    assert not any("trace_id" in entry for entry in entries)


def test_exporters_follow_the_otel_variables() -> None:
    assert span_exporters({}) == []
    assert metric_exporters({"OTEL_METRICS_EXPORTER": "none"}) == []
    [http] = span_exporters({"OTEL_TRACES_EXPORTER": "otlp"})
    assert isinstance(http, HttpSpans)
    grpc_env = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    [grpc] = span_exporters(grpc_env)
    assert isinstance(grpc, GrpcSpans)
    [console] = metric_exporters({"OTEL_METRICS_EXPORTER": "console"})
    assert isinstance(console, ConsoleMetricExporter)
    with pytest.raises(InputError, match="Invalid exporter 'zipkin' in OTEL_TRACES_EXPORTER"):
        span_exporters({"OTEL_TRACES_EXPORTER": "zipkin"})
    bad_protocol = {"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"}
    with pytest.raises(InputError, match="Invalid protocol 'thrift' in OTEL_EXPORTER_OTLP"):
        metric_exporters(bad_protocol)


def test_the_sampler_follows_the_otel_variables() -> None:
    assert sampler({}).get_description().startswith("ParentBased{root:AlwaysOnSampler,")
    ratio = sampler({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    assert ratio.get_description() == "TraceIdRatioBased{0.25}"
    with pytest.raises(InputError, match="Invalid sampler 'sometimes' in OTEL_TRACES_SAMPLER"):
        sampler({"OTEL_TRACES_SAMPLER": "sometimes"})
    with pytest.raises(InputError, match="Invalid ratio '2' in OTEL_TRACES_SAMPLER_ARG"):
        sampler({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"})


async def test_unsampled_requests_export_nothing() -> None:
    spans = InMemorySpanExporter()
    env = {"OTEL_TRACES_SAMPLER": "always_off"}
    telemetry = telemetry_service_factory(
        TelemetryOptions(env=env, span_exporter=spans, instrument_httpx=False)
    )
    async with start_test_backend(features=[things_plugin(), telemetry]) as test:
        assert (await test.client.get("/api/things/things/a")).status_code == 200
    assert spans.get_finished_spans() == ()


async def test_a_batched_exporter_gets_every_span_by_the_time_the_backend_stops() -> None:
    spans = InMemorySpanExporter()
    telemetry = telemetry_service_factory(
        TelemetryOptions(span_exporter=spans, span_exporter_batched=True, instrument_httpx=False)
    )
    async with start_test_backend(features=[things_plugin(), telemetry]) as test:
        for name in ("a", "b", "c"):
            assert (await test.client.get(f"/api/things/things/{name}")).status_code == 200
    names = [span.name for span in spans.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert names == ["GET /api/things/things/{key}"] * 3


async def test_the_service_is_the_unit_with_its_version() -> None:
    env = {"OTEL_TRACES_EXPORTER": "console"}
    options = TelemetryOptions(unit="search", version="1.2.3", env=env, instrument_httpx=False)
    telemetry = build_telemetry(options, None)
    renamed = build_telemetry(
        TelemetryOptions(unit="search", env={**env, "OTEL_SERVICE_NAME": "search-eu"}), None
    )
    try:
        assert telemetry.tracer_provider is not None
        attributes = telemetry.tracer_provider.resource.attributes
        assert attributes["service.name"] == "search"
        assert attributes["backstage.unit"] == "search"
        assert attributes["service.version"] == "1.2.3"
        assert telemetry.meter is None  # no metrics exporter asked for
        assert renamed.tracer_provider is not None
        assert renamed.tracer_provider.resource.attributes["service.name"] == "search-eu"
    finally:
        await telemetry.shutdown()
        await renamed.shutdown()


async def test_a_request_is_one_trace_with_its_statements_cache_calls_and_log_lines() -> None:
    spans = InMemorySpanExporter()
    lines: list[bytes] = []
    telemetry = telemetry_service_factory(
        TelemetryOptions(unit="things-unit", span_exporter=spans, instrument_httpx=False)
    )
    config = {"backend": {"logging": {"format": "json", "level": "info"}}}
    features = [things_plugin(), json_root_logger(lines), telemetry]
    async with start_test_backend(features=features, config=config) as test:
        first = await test.client.get("/api/things/things/a")
        second = await test.client.get("/api/things/things/a")
    assert first.json() == {"key": "a", "cached": False, "answer": 42}
    assert second.json()["cached"] is True
    finished = spans.get_finished_spans()
    requests = by_name(finished, "GET /api/things/things/{key}")
    assert len(requests) == 2
    for request in requests:
        assert request.kind is SpanKind.SERVER
        assert request.attributes is not None
        assert request.attributes["http.route"] == "/api/things/things/{key}"
        assert request.attributes["backstage.plugin_id"] == "things"
        assert request.attributes["http.response.status_code"] == 200
        assert request.resource.attributes["service.name"] == "things-unit"
    request = requests[0]
    assert request.context is not None
    trace_id = request.context.trace_id
    children = [
        span for span in finished if span.parent and span.parent.span_id == request.context.span_id
    ]
    assert all(
        child.context is not None and child.context.trace_id == trace_id for child in children
    )
    [cache_get] = by_name(children, "cache get")
    assert cache_get.attributes is not None
    assert cache_get.attributes["backstage.plugin_id"] == "things"
    assert cache_get.attributes["backstage.cache.store"] == "memory"
    assert cache_get.attributes["backstage.cache.hit"] is False
    assert by_name(children, "cache set")
    [statement] = [span for span in children if span.name.startswith("SELECT")]
    assert statement.attributes is not None
    assert statement.kind is SpanKind.CLIENT
    assert statement.attributes["backstage.plugin_id"] == "things"
    assert statement.attributes["db.query.text"] == "SELECT 41 + 1"
    assert statement.attributes["db.system.name"] == "sqlite"
    [second_get] = by_name(
        [s for s in finished if s.parent and s.parent.span_id == requests[1].context.span_id],  # type: ignore[union-attr]
        "cache get",
    )
    assert second_get.attributes is not None
    assert second_get.attributes["backstage.cache.hit"] is True

    entries = [json.loads(line) for line in lines]
    hex_trace = format_trace_id(trace_id)
    hex_span = format_span_id(request.context.span_id)
    [looked_up] = [
        e for e in entries if e["message"] == "Looking up a" and e["trace_id"] == hex_trace
    ]
    assert looked_up["span_id"] == hex_span
    assert looked_up["plugin"] == "things"
    [request_line] = [
        e for e in entries if e.get("type") == "incomingRequest" and e.get("trace_id") == hex_trace
    ]
    assert request_line["span_id"] == hex_span
    assert request_line["url"] == "/api/things/things/a"
    assert len(hex_trace) == 32
    assert len(hex_span) == 16
    # lines logged outside any request carry no ids
    assert any("trace_id" not in entry for entry in entries)


def test_prometheus_settings_are_checked() -> None:
    def settings(prometheus: dict[str, Any]) -> Any:
        config = Config.from_data({"backend": {"metrics": {"prometheus": prometheus}}})
        return read_prometheus_settings(config, "0.0.0.0")

    assert settings({}) is None
    assert settings({"enabled": False, "port": 9000}) is None
    enabled = settings({"enabled": True})
    assert (enabled.host, enabled.port) == ("0.0.0.0", 9464)
    with pytest.raises(
        InputError, match=r"Invalid port .abc. in .backend\.metrics\.prometheus\.port."
    ):
        settings({"enabled": True, "port": "abc"})
    with pytest.raises(InputError, match="between 0 and 65535"):
        settings({"enabled": True, "port": 70000})


async def _new_database(connection: dict[str, Any], name: str) -> None:
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def _task_plugin() -> BackendPlugin:
    """Schedules a task that succeeds and one that fails, each run at once."""

    def register(env: PluginRegistrationPoints) -> None:
        async def init(scheduler: core.Scheduler) -> None:
            async def works(_abort: asyncio.Event) -> None:
                return None

            async def breaks(_abort: asyncio.Event) -> None:
                raise RuntimeError("broken on purpose")

            for task_id, fn in (("works", works), ("breaks", breaks)):
                await scheduler.schedule_task(
                    id=task_id,
                    fn=fn,
                    frequency={"minutes": 10},
                    timeout={"seconds": 10},
                    scope="local",
                )

        env.register_init(init)

    return create_backend_plugin(plugin_id="tasks", register=register)


async def _metrics_text(port: int, wanted: Sequence[str]) -> str:
    """The endpoint's page once every `wanted` fragment is on it (task runs are async)."""
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
            assert response.status_code == 200
            if all(fragment in response.text for fragment in wanted):
                return response.text
            await asyncio.sleep(0.05)
    return response.text


async def test_prometheus_endpoint_shows_requests_cache_pools_and_task_runs(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    shared = f"{prefix}metrics"
    await _new_database(connection, shared)
    redis = require_service_url("BACKSTAGE_TEST_REDIS_URL")
    config = {
        "backend": {
            "metrics": {"prometheus": {"enabled": True, "port": 0, "host": "127.0.0.1"}},
            "database": {
                "client": "pg",
                "connection": {**connection, "database": shared},
                "pluginDivisionMode": "schema",
            },
            "cache": {
                "store": "redis",
                "connection": redis,
                "redis": {"client": {"namespace": f"bstest-{uuid.uuid4().hex[:10]}"}},
            },
        }
    }
    features = [things_plugin(), things_plugin("others"), _task_plugin(), scheduler_service_factory]
    async with start_test_backend(features=features, config=config) as test:
        for path in ("/api/things/things/a", "/api/things/things/a", "/api/others/things/b"):
            assert (await test.client.get(path)).status_code == 200
        assert (await test.client.get("/api/things/nowhere")).status_code == 404
        telemetry = await test.backend.get_service(telemetry_service_ref)
        assert telemetry.prometheus is not None
        assert telemetry.tracer is None
        text = await _metrics_text(
            telemetry.prometheus.port,
            ['task_id="breaks"', 'task_id="works"'],
        )
    samples = [line for line in text.splitlines() if not line.startswith("#")]

    def value(*fragments: str) -> float:
        [line] = [line for line in samples if all(f in line for f in fragments)]
        return float(line.rsplit(" ", 1)[1])

    route = 'http_route="/api/things/things/{key}"'
    assert value("http_server_request_duration_seconds_count", route, 'plugin_id="things"') == 2
    assert value("http_server_request_duration_seconds_count", 'plugin_id="others"') == 1
    assert value("http_server_request_duration_seconds_count", 'http_route="unmatched"') == 1
    cache = "backstage_cache_operations_total"
    assert value(cache, 'plugin_id="things"', 'result="miss"', 'cache_store="redis"') == 1
    assert value(cache, 'plugin_id="things"', 'result="hit"') == 1
    assert value(cache, 'plugin_id="others"', 'result="miss"') == 1
    for plugin in ("things", "others"):
        assert value("db_client_connection_max", f'plugin_id="{plugin}"') == 10
        used = value("db_client_connection_count", f'plugin_id="{plugin}"', 'state="used"')
        idle = value("db_client_connection_count", f'plugin_id="{plugin}"', 'state="idle"')
        assert used == 0
        assert idle >= 1
    runs = "backstage_scheduler_task_runs_total"
    assert value(runs, 'task_id="works"', 'result="succeeded"', 'plugin_id="tasks"') == 1
    assert value(runs, 'task_id="breaks"', 'result="failed"') == 1
    # the endpoint stops with the backend
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.TransportError):
            await client.get(f"http://127.0.0.1:{telemetry.prometheus.port}/metrics")


async def test_cache_errors_are_counted_per_plugin() -> None:
    reader = InMemoryMetricReader()
    telemetry = telemetry_service_factory(TelemetryOptions(metric_readers=[reader]))
    unreachable = {"backend": {"cache": {"store": "redis", "connection": "redis://127.0.0.1:1"}}}
    async with start_test_backend(
        features=[things_plugin(), telemetry], config=unreachable
    ) as test:
        response = await test.client.get("/api/things/things/a")
        data = reader.get_metrics_data()
    assert response.json()["cached"] is False  # an outage reads as a miss
    assert data is not None
    points = [
        (point.attributes, point.value)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "backstage.cache.operations"
        for point in metric.data.data_points
    ]
    results = {
        (attributes["backstage.cache.operation"], attributes["backstage.cache.result"]): value
        for attributes, value in points
        if attributes is not None and attributes["backstage.plugin_id"] == "things"
    }
    assert results == {("get", "error"): 1, ("set", "error"): 1}
