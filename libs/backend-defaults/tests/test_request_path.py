"""The request path's shortcuts keep its behaviour: request log lines formatted with their
batch (in order, none lost), `Vary` added in place, static tokens let through from the kept
headers, and the tasks of stragglers found at the end of the shutdown drain."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from backstage_backend_defaults import create_backend
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_defaults.http_router._compression import vary_on_encoding, with_vary
from backstage_backend_defaults.http_router._request_log import RequestLog
from backstage_backend_defaults.logger import BatchingWriter, DeferredLines, create_root_logger
from backstage_backend_plugin_api import (
    PluginRegistrationPoints,
    core_services,
    create_backend_plugin,
    create_service_factory,
)
from backstage_backend_test_utils import start_test_backend
from backstage_common.config import Config
from hypothesis import given
from hypothesis import strategies as st
from litestar import get

TOKEN = "static-token-for-request-path-tests"
EXTERNAL_ACCESS = {
    "backend": {
        "auth": {
            "externalAccess": [{"type": "static", "options": {"token": TOKEN, "subject": "t"}}]
        }
    }
}


@get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


def _plugin(*handlers: Any) -> Any:
    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core_services.HttpRouter) -> None:
            router.use(ping, *handlers)

        env.register_init(init)

    return create_backend_plugin(plugin_id="demo", register=register)


def _waiting_lines(path: Path) -> tuple[DeferredLines, Any, int]:
    """Where a request log over a batching writer to `path` keeps its waiting lines."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    config = Config.from_data({"backend": {"logging": {"format": "json"}}})
    root = create_root_logger(config, write=BatchingWriter(fd), env={})
    deferred = RequestLog(root.child({"type": "incomingRequest"})).deferred
    assert deferred is not None
    return deferred, root, fd


async def test_waiting_request_lines_keep_their_order_with_other_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    deferred, root, fd = _waiting_lines(path)
    ended = time.perf_counter()
    try:
        before = time.time()
        deferred.entries.append(
            (("GET", "/api/demo/a", 200, "1.1", "demo"), ended - 0.0015, ended, b"")
        )
        deferred.added()
        root.info("between")  # written after the waiting line, not before it
        deferred.entries.append((("POST", "/x%d", 201, "1.1", None), ended, ended + 0.0004, b""))
        deferred.added()
        await asyncio.sleep(0)
        assert path.read_bytes() == b""  # still held with their batch
        root.sink.flush()  # what shutdown calls: nothing is lost
        lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    finally:
        os.close(fd)
    assert [line["message"] for line in lines] == [
        '"GET /api/demo/a" 200 1.5ms',
        "between",
        '"POST /x%d" 201 0.4ms',
    ]
    assert lines[0]["durationMs"] == 1.5
    assert lines[0]["plugin"] == "demo"
    assert "plugin" not in lines[2]
    assert lines[2]["url"] == "/x%d"
    # the moment the request ended, not the moment its batch was written
    assert abs(_moment(lines[0]) - before) < 0.05


def _moment(line: dict[str, Any]) -> float:
    stamp = datetime.strptime(line["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return stamp.timestamp()


async def test_each_waiting_line_has_the_timestamp_of_its_own_end(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    deferred, root, fd = _waiting_lines(path)
    ended = time.perf_counter()
    try:
        for later in (0.0, 0.0025, 0.0051, 1.0):
            key = ("GET", f"/api/demo/{later}", 200, "1.1", "demo")
            deferred.entries.append((key, ended + later - 0.001, ended + later, b""))
        deferred.added()
        root.sink.flush()
        lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    finally:
        os.close(fd)
    first = _moment(lines[0])
    apart = [round((_moment(line) - first) * 1000) for line in lines]
    assert apart[0] == 0
    assert 1 <= apart[1] <= 4
    assert 4 <= apart[2] <= 7
    assert 999 <= apart[3] <= 1002


async def test_a_full_batch_of_waiting_lines_is_written_at_once(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    deferred, root, fd = _waiting_lines(path)
    now = time.perf_counter()
    try:
        for _ in range(deferred.LIMIT):
            deferred.entries.append((("GET", "/api/demo/ping", 200, "1.1", "demo"), now, now, b""))
            if len(deferred.entries) in (1, deferred.LIMIT):
                deferred.added()
        assert len(path.read_bytes().splitlines()) == deferred.LIMIT
        assert deferred.entries == []
    finally:
        root.sink.flush()
        os.close(fd)


def _start(headers: Any, status: int = 200) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": headers}


def test_vary_is_added_in_place_once_and_as_the_general_path_decides() -> None:
    json_type = (b"content-type", b"application/json")
    vary_on_encoding(_start([json_type]))  # the content type is now known
    headers = [json_type, (b"content-length", b"2")]
    start = _start(headers)
    assert with_vary(start) is start
    assert headers == [json_type, (b"content-length", b"2"), (b"vary", b"Accept-Encoding")]
    again = with_vary(start)  # a message sent again does not gain a second Vary
    assert [name for name, _ in again["headers"]].count(b"vary") == 1
    cases = [
        [(b"Content-Type", b"application/json")],  # not lowercase: the general path
        [json_type, (b"vary", b"Origin")],
        [json_type, (b"cache-control", b"no-transform")],
        [json_type, (b"content-encoding", b"gzip")],
        [(b"content-type", b"image/png")],
        (json_type,),  # a tuple, not a list
    ]
    for case in cases:
        expected = vary_on_encoding(_start(list(case)))[0]["headers"]
        assert list(with_vary(_start(case))["headers"]) == list(expected), case
    for status in (101, 204, 304):
        assert with_vary(_start([json_type], status))["headers"] == [json_type]


async def test_a_static_token_passes_from_the_kept_headers_and_others_do_not() -> None:
    features = [auth_service_factory, http_auth_service_factory, _plugin()]
    async with start_test_backend(features=features, config=EXTERNAL_ACCESS) as backend:
        client = backend.client
        first = await client.get("/api/demo/ping", headers={"Authorization": f"Bearer {TOKEN}"})
        second = await client.get("/api/demo/ping", headers={"Authorization": f"Bearer {TOKEN}"})
        wrong = await client.get("/api/demo/ping", headers={"Authorization": "Bearer wrong"})
        # the first Authorization header decides, as before
        both = await client.get(
            "/api/demo/ping",
            headers=[("Authorization", "Bearer wrong"), ("Authorization", f"Bearer {TOKEN}")],
        )
        none = await client.get("/api/demo/ping")
    assert (first.status_code, second.status_code) == (200, 200)
    assert (wrong.status_code, both.status_code, none.status_code) == (401, 401, 401)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_the_end_of_the_drain_cancels_the_requests_still_running(
    capfd: pytest.CaptureFixture[str],
) -> None:
    in_handler = asyncio.Event()
    cancelled: list[str] = []

    @get("/forever")
    async def forever() -> dict[str, str]:
        in_handler.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append("forever")
            raise
        return {}

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    backend = create_backend(
        config_data={
            "backend": {
                "baseUrl": base,
                "listen": {"host": "127.0.0.1", "port": port},
                "logging": {"level": "warn"},
                "auth": {"dangerouslyDisableDefaultAuthPolicy": True},
                "lifecycle": {"shutdownTimeout": "300ms"},
            }
        }
    )
    backend.add(_plugin(forever))
    await backend.start()
    logger: Any = await backend.get_service(core_services.root_logger)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            waiting = asyncio.create_task(client.get("/api/demo/forever"))
            await asyncio.wait_for(in_handler.wait(), 5)
            started = time.monotonic()
            await backend.stop()
            took = time.monotonic() - started
            response = await waiting
    finally:
        await backend.stop()
    assert cancelled == ["forever"]
    assert response.status_code == 503
    assert response.headers["connection"] == "close"
    assert response.json()["error"]["message"] == "Service is shutting down"
    assert took < 3
    logger.sink.flush()
    logged = "".join(capfd.readouterr())
    warning = "1 request(s) still running after backend.lifecycle.shutdownTimeout were cancelled"
    assert f"{warning}: GET /api/demo/forever" in logged


async def test_a_served_request_line_reaches_the_log_at_stop(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)

    def root_logger(config: core_services.RootConfig) -> Any:
        return create_root_logger(config, write=BatchingWriter(fd))

    factory = create_service_factory(service=core_services.root_logger, factory=root_logger)
    config = {"backend": {"logging": {"format": "json", "level": "info"}}}
    try:
        async with start_test_backend(features=[factory, _plugin()], config=config) as backend:
            await backend.client.get("/api/demo/ping")
            logger: Any = await backend.get_service(core_services.root_logger)
            logger.sink.flush()
    finally:
        os.close(fd)
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    requests = [line for line in lines if line.get("url") == "/api/demo/ping"]
    assert len(requests) == 1
    assert requests[0]["status"] == 200
    assert requests[0]["plugin"] == "demo"


async def _status(asgi: Any, path: str, root_path: str) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "root_path": root_path,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 7007),
        "state": {},
    }
    await asgi(scope, receive, send)
    status: int = sent[0]["status"]
    return status


async def test_a_path_seen_as_a_plugin_path_is_routed_again_under_a_root_path() -> None:
    answers = []
    for seen_first in (False, True):
        features = [auth_service_factory, http_auth_service_factory, _plugin()]
        async with start_test_backend(features=features) as backend:
            http: Any = await backend.get_service(core_services.root_http_router)
            asgi = http.router.asgi
            if seen_first:  # the plugin's gate asks for credentials
                assert await _status(asgi, "/api/demo/ping", "") == 401
            # under the root path `/api`, this is `/demo/ping`: no plugin's path, no gate
            answers.append(await _status(asgi, "/api/demo/ping", "/api"))
            assert await _status(asgi, "/api/demo/ping", "") == 401
    assert answers == [404, 404]


@given(
    path=st.text(min_size=1, max_size=60).map(lambda text: "/" + text),
    status=st.integers(min_value=100, max_value=599),
    duration_us=st.integers(min_value=0, max_value=10**9),
    plugin=st.one_of(st.none(), st.sampled_from(["catalog", "search-backend"])),
    trace_ids=st.sampled_from([b"", b',"trace_id":"0af7651916cd43dd","span_id":"b7ad6b71"']),
)
def test_a_waiting_line_says_what_a_line_written_at_once_says(
    path: str, status: int, duration_us: int, plugin: str | None, trace_ids: bytes
) -> None:
    lines: list[bytes] = []
    config = Config.from_data({"backend": {"logging": {"format": "json"}}})
    at_once = RequestLog(create_root_logger(config, write=lines.append, env={}))
    at_once.write("GET", path, status, duration_us, "1.1", plugin, trace_ids)
    fd = os.open(os.devnull, os.O_WRONLY)
    try:
        batched = create_root_logger(config, write=BatchingWriter(fd), env={})
        waiting = RequestLog(batched).deferred
        assert waiting is not None
        ended = time.perf_counter()
        # a duration that converts back to exactly `duration_us`
        started = ended - duration_us / 1e6
        key = ("GET", path, status, "1.1", plugin)
        waiting.entries.append((key, started, ended, trace_ids))
        rendered = waiting.take()
    finally:
        os.close(fd)
    expected = json.loads(lines[0])
    entry = json.loads(rendered[0])
    del expected["timestamp"], entry["timestamp"]
    assert entry == expected
    assert rendered[0].split(b'"level"', 1)[1] == lines[0].split(b'"level"', 1)[1]
