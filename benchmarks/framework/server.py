"""A benchmark server: the whole framework, or a bare Litestar app, on granian + uvloop.

Started by `bench.py` as a subprocess (`sys.executable server.py <kind> ...`); it serves
127.0.0.1 only, until SIGTERM/SIGINT.

- `framework`: `create_backend()` with every default service and one plugin `bench` with
  `GET /api/bench/ping` (default auth policy: needs a token from
  `backend.auth.externalAccess`) and `GET /api/bench/public/ping` (allowed with
  `add_auth_policy(allow="unauthenticated")`). Request log lines go to standard output as JSON.
  `--telemetry traces|all|sampled` turns OpenTelemetry on (spans to a no-op exporter; `all` adds
  the metrics), for `telemetry_overhead.py`.
- `bare`: a Litestar app with the same handler at `/api/bench/ping`, served by
  `granian.server.embed.Server` with the options of the framework's `_server.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys


def _pin(cpu: int | None) -> None:
    # Before anything starts a thread (granian's runtime threads inherit the mask).
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _telemetry_factory(telemetry: str, processor: str = "simple") -> object | None:
    """`traces`: every span exported to a no-op exporter, as it ends (`processor` simple) or
    in batches as the OTLP exporters get them (`batch`); `all`: that, plus the metrics (an
    in-memory reader, as a Prometheus scrape would read them); `sampled`: `traces` with one
    trace in ten sampled."""
    if telemetry == "off":
        return None
    from backstage_backend_defaults.telemetry import TelemetryOptions, telemetry_service_factory
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class _NoopExporter(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    readers = [InMemoryMetricReader()] if telemetry == "all" else []
    env = {}
    if telemetry == "sampled":  # one request in ten traced, as a busy production unit might
        env = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
    options = TelemetryOptions(
        unit="bench",
        env=env,
        span_exporter=_NoopExporter(),
        span_exporter_batched=processor == "batch",
        metric_readers=readers,
    )
    return telemetry_service_factory(options)


async def serve_framework(
    port: int, token: str, log_level: str, telemetry: str = "off", processor: str = "simple"
) -> None:
    from backstage_backend_defaults import create_backend
    from bench_plugin import bench_plugin, framework_config

    backend = create_backend(config_data=framework_config(port, token, log_level))
    factory = _telemetry_factory(telemetry, processor)
    if factory is not None:
        backend.add(factory)  # type: ignore[arg-type]
    backend.add(bench_plugin())
    await backend.start()
    try:
        await _wait_for_signal()
    finally:
        await backend.stop()


async def serve_bare(port: int) -> None:
    from bench_plugin import route_handlers
    from granian.constants import Interfaces
    from granian.server.embed import Server
    from litestar import Litestar, Router

    app = Litestar(
        route_handlers=[Router(path="/api/bench", route_handlers=route_handlers())],
        openapi_config=None,
        logging_config=None,
    )
    # The options of backstage_backend_defaults.http_router._server.HttpServer.
    server = Server(
        app,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGINL,
        websockets=False,
        log_enabled=False,
        backlog=1024,
    )
    task = asyncio.create_task(server.serve())
    try:
        await _wait_for_signal()
    finally:
        server.stop()  # type: ignore[no-untyped-call]
        await asyncio.wait_for(task, 5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["framework", "bare"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    parser.add_argument("--token", default="bench-static-token")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--telemetry", choices=["off", "traces", "all", "sampled"], default="off")
    parser.add_argument("--span-processor", choices=["simple", "batch"], default="simple")
    args = parser.parse_args(argv)
    _pin(args.cpu)
    if args.kind == "framework":
        coro = serve_framework(
            args.port, args.token, args.log_level, args.telemetry, args.span_processor
        )
    else:
        coro = serve_bare(args.port)
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(coro)
    else:
        asyncio.run(coro)
    return 0


if __name__ == "__main__":
    sys.exit(main())
