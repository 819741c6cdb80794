"""Where the framework's per-request time goes: each layer called in-process, no server.

Builds the same backend as `server.py framework` (its request log written to /dev/null with
the default JSON sink) and a bare Litestar app with the same route, then drives their ASGI
callables directly with a synthetic `GET` scope, on uvloop, and prints microseconds per
request for each layer and component. `--profile` adds a cProfile of the full framework path.

Run: `uv run python benchmarks/framework/breakdown.py [--requests 20000] [--profile]`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop
from backstage_backend_defaults import Backend, create_backend
from backstage_backend_defaults.http_router import BackendAsgiApp
from backstage_backend_defaults.logger import create_root_logger
from backstage_backend_plugin_api import RootLoggerService, create_service_factory
from backstage_backend_plugin_api import core_services as core
from bench_plugin import PUBLIC_PATH, bench_plugin, framework_config, route_handlers
from litestar import Litestar, Router
from litestar.connection import ASGIConnection

TOKEN = "bench-static-token-0123456789"
PING = "/api/bench/ping"
PUBLIC_PING = f"/api/bench{PUBLIC_PATH}"
_DEVNULL = os.open(os.devnull, os.O_WRONLY)


def _devnull_write(data: bytes) -> None:
    os.write(_DEVNULL, data)  # the default writer's syscall, to /dev/null


def _root_logger(config: core.RootConfig) -> RootLoggerService:
    return create_root_logger(config, write=_devnull_write)


def make_scope(path: str, token: str | None) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1:7007"),
        (b"user-agent", b"wrk"),
        (b"accept", b"*/*"),
    ]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 7007),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class _Send:
    def __init__(self) -> None:
        self.status = 0

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]


AsgiApp = Callable[[Any, Any, Any], Awaitable[None]]


Case = Callable[[], Awaitable[Any]]


def asgi_case(app: AsgiApp, scope: dict[str, Any]) -> Case:
    """One request through `app`; a fresh scope each time, as a server gives."""
    send = _Send()

    async def one() -> None:
        await app({**scope, "state": {}}, _receive, send)
        if send.status != 200:
            raise RuntimeError(f"{scope['path']} answered {send.status}")

    return one


def call_case(call: Callable[[], Any]) -> Case:
    async def one() -> None:
        result = call()
        if asyncio.iscoroutine(result):
            await result

    return one


async def timed(cases: dict[str, Case], requests: int, rounds: int) -> dict[str, float]:
    """Microseconds per call: the cases interleaved for `rounds`, the best batch of each.

    The minimum, not the mean: on a shared VM, noise only ever adds time.
    """
    batches: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            started = time.perf_counter()
            for _ in range(requests):
                await case()
            batches[name].append((time.perf_counter() - started) / requests * 1e6)
    return {name: min(values) for name, values in batches.items()}


async def start_framework(port: int, level: str) -> tuple[Backend, BackendAsgiApp]:
    backend = create_backend(config_data=framework_config(port, TOKEN, level))
    backend.add(create_service_factory(service=core.root_logger, factory=_root_logger))
    backend.add(bench_plugin())
    await backend.start()
    http: Any = await backend.get_service(core.root_http_router)
    return backend, http.router.asgi


def bare_app() -> Litestar:
    return Litestar(
        route_handlers=[Router(path="/api/bench", route_handlers=route_handlers())],
        openapi_config=None,
        logging_config=None,
    )


def component_cases(asgi: BackendAsgiApp) -> dict[str, Case]:
    gate: Any = asgi.gate("bench")
    auth_scope: Any = make_scope(PING, TOKEN)
    public_scope: Any = make_scope(PUBLIC_PING, None)
    http_auth = gate.http_auth
    started = time.perf_counter()
    return {
        "request log line (RequestLog.write)": call_case(
            lambda: asgi.request_log.write(
                "GET", PING, 200, int((time.perf_counter() - started) * 1e6), "1.1", "bench"
            )
        ),
        "gate.admit()": call_case(gate.admit),
        "gate.authorize(), static token": call_case(lambda: gate.authorize(auth_scope, PING)),
        "  of which ASGIConnection(scope)": call_case(lambda: ASGIConnection(auth_scope)),
        "  of which http_auth.credentials()": call_case(
            lambda: http_auth.credentials(ASGIConnection(auth_scope), allow=("user", "service"))
        ),
        "gate.authorize(), unauthenticated path": call_case(
            lambda: gate.authorize(public_scope, PUBLIC_PING)
        ),
    }


async def profile_full(asgi: AsgiApp, requests: int) -> str:
    scope = make_scope(PING, TOKEN)
    send = _Send()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        await asgi({**scope, "state": {}}, _receive, send)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(30)
    return out.getvalue()


async def measure(
    requests: int, rounds: int, profile: bool
) -> tuple[dict[str, float], dict[str, float], str | None]:
    backend, asgi = await start_framework(_free_port(), "info")
    quiet_backend, quiet_asgi = await start_framework(_free_port(), "warn")
    try:
        auth_scope = make_scope(PING, TOKEN)
        public_scope = make_scope(PUBLIC_PING, None)
        inner = asgi.app

        async def passthrough(scope: Any, receive: Any, send: Any) -> None:
            await inner(scope, receive, send)

        layer_cases: dict[str, Case] = {
            "bare Litestar app": asgi_case(bare_app(), make_scope(PING, None)),
            "framework's Litestar app alone (no gate, no log)": asgi_case(inner, auth_scope),
            "framework's Litestar app in an empty wrapper": asgi_case(passthrough, auth_scope),
            "framework, full, static token": asgi_case(asgi, auth_scope),
            "framework, full, unauthenticated route": asgi_case(asgi, public_scope),
            "framework, full, static token, log off (warn)": asgi_case(quiet_asgi, auth_scope),
            "framework, full, unauthenticated route, log off": asgi_case(quiet_asgi, public_scope),
        }
        part_cases = component_cases(asgi)
        # One interleaved series, so that layers and parts see the same machine.
        timings = await timed({**layer_cases, **part_cases}, requests, rounds)
        layers = {name: timings[name] for name in layer_cases}
        parts = {name: timings[name] for name in part_cases}
        report = await profile_full(asgi, requests) if profile else None
    finally:
        await backend.stop()
        await quiet_backend.stop()
    return layers, parts, report


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per batch")
    parser.add_argument("--rounds", type=int, default=40, help="batches per case, interleaved")
    parser.add_argument("--cpu", type=int, default=1, help="pin to this CPU (-1: do not)")
    parser.add_argument("--profile", action="store_true", help="cProfile the full path")
    args = parser.parse_args(argv)
    if args.cpu >= 0 and args.cpu in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {args.cpu})
    requests = max(100, min(args.requests, 200_000))
    rounds = max(1, min(args.rounds, 50))
    layers, parts, report = uvloop.run(measure(requests, rounds, args.profile))
    print(f"per request, in-process, best of {rounds} batches of {requests} (microseconds):")
    bare = layers["bare Litestar app"]
    for name, value in layers.items():
        print(f"  {name:<56} {value:7.2f}  (+{value - bare:6.2f} vs bare)")
    print("components, called alone:")
    for name, value in parts.items():
        print(f"  {name:<56} {value:7.2f}")
    if report is not None:
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
