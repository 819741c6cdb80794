"""One trace across units: search's indexing run in one backend and the catalog's handling of
its requests in another (two servers on two ports) share a trace id, through W3C trace
context on the collator's HTTP calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from backstage_backend_defaults.scheduler import scheduler_service_factory
from backstage_backend_defaults.telemetry import TelemetryOptions, telemetry_service_factory
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_search_backend import search_module_catalog_collator, search_plugin
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from .catalog_backend import entity, seed

TASK = "search_index_software_catalog"


@asynccontextmanager
async def _catalog_unit(spans: InMemorySpanExporter) -> AsyncIterator[TestBackend]:
    telemetry = telemetry_service_factory(
        TelemetryOptions(unit="catalog", span_exporter=spans, instrument_httpx=False)
    )
    async with start_test_backend(features=[catalog_plugin(), telemetry]) as test:
        await seed(test, [entity("Component", "petstore"), entity("API", "petstore-api")])
        yield test


@asynccontextmanager
async def _search_unit(catalog: TestBackend, spans: InMemorySpanExporter) -> AsyncIterator[None]:
    telemetry = telemetry_service_factory(TelemetryOptions(unit="search", span_exporter=spans))
    config = {
        "discovery": {
            "endpoints": [{"target": f"{catalog.base_url}/api/catalog", "plugins": ["catalog"]}]
        },
        "search": {"collators": {"catalog": {"batchSize": 1}}},
    }
    features = [
        search_plugin(),
        search_module_catalog_collator(),
        scheduler_service_factory,  # the real scheduler: each run is a span of its own
        telemetry,
    ]
    async with start_test_backend(features=features, config=config):
        yield


async def _indexing_run(spans: InMemorySpanExporter) -> ReadableSpan:
    """The first run of the catalog collator's task (it runs when the unit starts)."""
    for _ in range(400):
        for span in spans.get_finished_spans():
            if span.name == f"task {TASK}":
                return span
        await asyncio.sleep(0.025)
    raise AssertionError("the indexing task never ran")


def _in_trace(spans: Sequence[ReadableSpan], trace_id: int) -> list[ReadableSpan]:
    return [
        span for span in spans if span.context is not None and span.context.trace_id == trace_id
    ]


async def test_the_indexing_run_and_the_catalogs_requests_are_one_trace() -> None:
    spans = InMemorySpanExporter()
    async with _catalog_unit(spans) as catalog, _search_unit(catalog, spans):
        run = await _indexing_run(spans)
    assert run.context is not None
    assert run.parent is None  # a run starts its own trace
    assert run.resource.attributes["service.name"] == "search"
    trace = _in_trace(spans.get_finished_spans(), run.context.trace_id)
    by_id = {span.context.span_id: span for span in trace if span.context is not None}

    calls = [span for span in trace if span.kind is SpanKind.CLIENT and span.name == "GET"]
    handled = [
        span
        for span in trace
        if span.kind is SpanKind.SERVER and span.resource.attributes["service.name"] == "catalog"
    ]
    # batches of one entity: a page per entity and the last, empty one
    assert len(calls) >= 2
    assert len(handled) == len(calls)
    for server in handled:
        assert server.attributes is not None
        assert server.attributes["backstage.plugin_id"] == "catalog"
        assert server.attributes["http.route"] == "/api/catalog/entities/by-query"
        assert server.attributes["http.response.status_code"] == 200
        # its parent is search's outgoing call, which came from the indexing run
        assert server.parent is not None
        assert server.parent.is_remote
        client = by_id[server.parent.span_id]
        assert client.kind is SpanKind.CLIENT
        assert client.resource.attributes["service.name"] == "search"
    # the catalog's statements for those requests are in the same trace, tagged
    statements = [
        span
        for span in trace
        if span.attributes is not None and span.attributes.get("db.system.name") is not None
    ]
    assert statements
    assert {span.attributes["backstage.plugin_id"] for span in statements} == {"catalog"}  # type: ignore[index]
    assert all(span.resource.attributes["service.name"] == "catalog" for span in statements)
