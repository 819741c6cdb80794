"""The HTTP edge: connections cannot be held open for free (header, body and keep-alive
timeouts), a stopping backend's 503s close the connection, dot segments are refused, and
the gate sees the path the router routes. Raw sockets throughout, so that no client
library rewrites what is sent."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from backstage_backend_defaults import Backend, create_backend
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_defaults.http_router import BackendAsgiApp, read_server_timeouts
from backstage_backend_defaults.http_router._paths import canonical_path, is_canonical
from backstage_backend_defaults.logger import StructuredLogger
from backstage_backend_plugin_api import (
    PluginRegistrationPoints,
    core_services,
    create_backend_plugin,
)
from backstage_backend_test_utils import start_test_backend
from backstage_common.config import Config
from backstage_common.errors import InputError
from litestar import Response, get, head, post
from litestar.params import JSONBody
from litestar.utils import normalize_path

# Generous: these only prove that the server closes the connection instead of holding it.
CLOSED_WITHIN = 10.0
TIMEOUTS = {"headersTimeout": 400, "requestTimeout": 400, "keepAliveTimeout": 400}


@get("/ok")
async def ok() -> dict[str, str]:
    return {"status": "fine"}


@head("/ok")
async def own_head() -> Response[None]:
    return Response(None, headers={"x-answered-by": "head"})


@get("/only-get")
async def only_get() -> dict[str, str]:
    return {"status": "fine"}


@post("/echo")
async def echo(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    return data


def edge_plugin(*, slow: asyncio.Event | None = None, finish: asyncio.Event | None = None) -> Any:
    @get("/slow")
    async def slow_handler() -> dict[str, str]:
        assert slow is not None
        assert finish is not None
        slow.set()
        await finish.wait()
        return {"finished": "yes"}

    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core_services.HttpRouter) -> None:
            router.use(ok, own_head, only_get, echo, slow_handler)
            router.add_auth_policy(path="/ok", allow="unauthenticated")

        env.register_init(init)

    return create_backend_plugin(plugin_id="edge", register=register)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def _backend(
    server: dict[str, Any], *features: Any, start: bool = True, **more: Any
) -> AsyncIterator[tuple[Backend, int]]:
    """A started backend with `features`; `more` adds to (or replaces) its `backend` config."""
    port = _free_port()
    backend = create_backend(
        config_data={
            "backend": {
                "baseUrl": f"http://127.0.0.1:{port}",
                "listen": {"host": "127.0.0.1", "port": port},
                "logging": {"level": "error"},
                "auth": {"dangerouslyDisableDefaultAuthPolicy": True},
                "server": server,
                **more,
            }
        }
    )
    for feature in features:
        backend.add(feature)
    try:
        if start:
            await backend.start()
        yield backend, port
    finally:
        await backend.stop()


async def _read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (or a reset)."""
    data = b""
    while True:
        try:
            chunk = await reader.read(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


async def _closed_after(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(_read_until_closed(reader), CLOSED_WITHIN)


async def test_a_connection_part_way_through_its_headers_cannot_hold_the_stop(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The server stops within `shutdownTimeout`: without the bound, granian waits for a
    connection that has sent part of a request's headers until its header timeout (60 s)."""
    server = {"headersTimeout": 60_000, "keepAliveTimeout": 60_000}
    async with _backend(
        server,
        edge_plugin(),
        logging={"level": "warn"},
        lifecycle={"shutdownTimeout": "1s"},
    ) as (backend, port):
        logger = await backend.get_service(core_services.root_logger)
        assert isinstance(logger, StructuredLogger)
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/edge/ok HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(backend.stop(), CLOSED_WITHIN)
        assert loop.time() - started < 5.0
        logger.sink.flush()
        warning = "connections were still open after backend.lifecycle.shutdownTimeout"
        assert warning in "".join(capfd.readouterr())
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        writer.close()


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout() -> None:
    async with _backend({"keepAliveTimeout": 300}, edge_plugin()) as (_, port):
        silent_reader, silent = await asyncio.open_connection("127.0.0.1", port)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/edge/ok HTTP/1.1\r\nHost: x\r\n\r\n")
        # a connection that never sends a byte, and one idle after its response
        never_sent = await _closed_after(silent_reader)
        after_response = await _closed_after(reader)
        silent.close()
        writer.close()
    assert never_sent == b""
    assert after_response.startswith(b"HTTP/1.1 200")
    assert after_response.endswith(b'{"status":"fine"}')


async def test_a_request_whose_headers_never_finish_is_dropped() -> None:
    async with _backend({"headersTimeout": 300}, edge_plugin()) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def trickle() -> None:  # slowloris: a header byte now and then, never the end
            writer.write(b"GET /api/edge/ok HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            for _ in range(200):
                await asyncio.sleep(0.05)
                writer.write(b"a")

        trickling = asyncio.create_task(trickle())
        received = await _closed_after(reader)
        trickling.cancel()
        writer.close()
    assert received == b""


@pytest.mark.parametrize(
    "request_bytes",
    [
        # a body that never finishes
        b"POST /api/edge/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n",
        # a Content-Length longer than what is sent
        b"POST /api/edge/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"a": 1}',
    ],
    ids=["unfinished-chunked-body", "short-content-length"],
)
async def test_a_body_that_never_arrives_is_answered_408_and_the_connection_closed(
    request_bytes: bytes,
) -> None:
    async with _backend(TIMEOUTS | {"keepAliveTimeout": 60_000}, edge_plugin()) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request_bytes)
        received = await _closed_after(reader)
        writer.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert json.loads(body)["error"] == {
        "name": "RequestTimeoutError",
        "message": "The request body was not received in time",
    }


async def test_a_complete_body_within_the_timeout_is_served() -> None:
    async with _backend(TIMEOUTS, edge_plugin()) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b'{"a": 1}'
        writer.write(
            b"POST /api/edge/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        received = await _closed_after(reader)
        writer.close()
    assert received.startswith(b"HTTP/1.1 201")
    assert received.endswith(b'{"a":1}')


async def test_the_503s_of_a_shutdown_close_keep_alive_connections() -> None:
    in_handler, finish = asyncio.Event(), asyncio.Event()
    plugin = edge_plugin(slow=in_handler, finish=finish)
    async with _backend({}, plugin) as (backend, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/edge/ok HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive
        first = await reader.readuntil(b'{"status":"fine"}')
        slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", port)
        slow_writer.write(b"GET /api/edge/slow HTTP/1.1\r\nHost: x\r\n\r\n")
        await in_handler.wait()
        http: Any = await backend.get_service(core_services.root_http_router)
        gate = http.router.asgi.gate("edge")
        stopping = asyncio.create_task(backend.stop())
        for _ in range(1000):  # until shutdown has begun: the gate refuses from then on
            if gate.stopping:
                break
            await asyncio.sleep(0.01)
        writer.write(b"GET /api/edge/ok HTTP/1.1\r\nHost: x\r\n\r\n")
        refused = await _closed_after(reader)
        finish.set()
        slow = await _closed_after(slow_reader)  # served, then closed as the server stops
        await stopping
        writer.close()
        slow_writer.close()
    assert first.startswith(b"HTTP/1.1 200")
    head, _, body = refused.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503")
    assert b"\r\nconnection: close" in head.lower()
    assert json.loads(body)["error"]["message"] == "Service is shutting down"
    assert slow.startswith(b"HTTP/1.1 200")


async def test_dot_segments_are_refused_and_doubled_slashes_meet_the_gate() -> None:
    config = {
        "backend": {
            "auth": {
                "externalAccess": [
                    {"type": "static", "options": {"token": "edge-static-token", "subject": "s"}}
                ]
            }
        }
    }
    features = [auth_service_factory, http_auth_service_factory, edge_plugin()]
    async with start_test_backend(features=features, config=config) as test:
        port = int(test.base_url.rsplit(":", 1)[1])
        answers = {}
        for target in (
            "//api/edge/echo",
            "/api/edge/echo//",
            "/api//edge/echo",
            "/api/edge//echo/",
            "/api/edge/./echo",
            "/api/edge/x/../echo",
            "/api/edge/ok/../echo",
            "/api/edge/%2e%2e/edge/echo",
            "//api/edge//ok",
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 2\r\nConnection: close\r\n\r\n{}" % target.encode()
            )
            answers[target] = (await _closed_after(reader)).split(b" ", 2)[1]
            writer.close()
    assert answers == {
        "//api/edge/echo": b"401",
        "/api/edge/echo//": b"401",
        "/api//edge/echo": b"401",
        "/api/edge//echo/": b"401",
        "/api/edge/./echo": b"400",
        "/api/edge/x/../echo": b"400",
        "/api/edge/ok/../echo": b"400",
        "/api/edge/%2e%2e/edge/echo": b"400",
        "//api/edge//ok": b"405",  # through the open path's gate, to its GET-only route
    }


def test_server_timeouts_are_read_as_durations_and_must_be_positive() -> None:
    server = {"headersTimeout": "2s", "keepAliveTimeout": 1500}
    timeouts = read_server_timeouts(Config.from_data({"backend": {"server": server}}))
    assert (timeouts.headers, timeouts.request, timeouts.keep_alive) == (2.0, 60.0, 1.5)
    assert timeouts.header_read == 1.5  # granian has one timer for both
    defaults = read_server_timeouts(Config.from_data({}))
    assert (defaults.headers, defaults.request, defaults.keep_alive) == (60.0, 60.0, 5.0)
    zero = Config.from_data({"backend": {"server": {"requestTimeout": 0}}})
    with pytest.raises(InputError, match=r"backend\.server\.requestTimeout"):
        read_server_timeouts(zero)


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("/api/catalog/entities", "/api/catalog/entities"),
        ("//api/catalog/entities", "/api/catalog/entities"),
        ("/api//catalog///entities//", "/api/catalog/entities"),
        ("/", "/"),
        ("", "/"),
        ("///", "/"),
        ("/api/catalog/entities/by-name/a..b/x.y/.z", "/api/catalog/entities/by-name/a..b/x.y/.z"),
        ("/api/./catalog", None),
        ("/api/x/../catalog", None),
        ("/api/catalog/..", None),
        ("/api/catalog/.", None),
        ("../api/catalog", None),
        ("/api//..//catalog", None),
    ],
)
def test_canonical_paths_are_litestars_routed_paths_and_dot_segments_are_refused(
    path: str, canonical: str | None
) -> None:
    assert canonical_path(path) == canonical
    if canonical is not None:
        assert normalize_path(path) == canonical  # exactly what Litestar routes
    # the request path's shortcut: a path it calls canonical is left as it is
    assert not is_canonical(path) or canonical == path
    assert is_canonical(path) or path != "/api/catalog/entities"


def test_the_root_path_stays_in_front_of_the_canonical_path() -> None:
    scope: dict[str, Any] = {"path": "/base//api/catalog/", "root_path": "/base"}
    assert BackendAsgiApp._canonicalise(scope) == "/api/catalog"
    assert (scope["path"], scope["raw_path"], scope["root_path"]) == (
        "/base/api/catalog",
        b"/base/api/catalog",
        "/base",
    )
    # A root path that is not the path's prefix: Litestar would cut the path wherever the
    # root path occurs in it, so it is dropped.
    elsewhere: dict[str, Any] = {"path": "/api/base/x", "root_path": "/base"}
    assert BackendAsgiApp._canonicalise(elsewhere) == "/api/base/x"
    assert elsewhere["root_path"] == ""


async def test_head_is_served_as_get_unless_a_handler_answers_head_itself() -> None:
    async with _backend({}, edge_plugin()) as (_, port):
        answers = {}
        for request in (
            b"GET /api/edge/only-get",
            b"HEAD /api/edge/only-get",
            b"HEAD /api/edge/ok",
            b"HEAD /api/edge/echo",
        ):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answers[request] = await _closed_after(reader)
            writer.close()

    def head_lines(raw: bytes) -> set[bytes]:
        return {line for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n") if b"date:" not in line}

    get_response = answers[b"GET /api/edge/only-get"]
    assert get_response.endswith(b'{"status":"fine"}')
    assert answers[b"HEAD /api/edge/only-get"].endswith(b"\r\n\r\n")  # no body
    assert head_lines(answers[b"HEAD /api/edge/only-get"]) == head_lines(get_response)
    assert b"x-answered-by: head" in answers[b"HEAD /api/edge/ok"]
    assert answers[b"HEAD /api/edge/echo"].startswith(b"HTTP/1.1 405")  # POST only
