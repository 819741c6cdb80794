"""The HTTP layer: error bodies, request log, CORS, body limit, health, gate, auth, shutdown."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from backstage_backend_defaults import Backend, create_backend
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_defaults.logger import create_root_logger
from backstage_backend_plugin_api import (
    PluginRegistrationPoints,
    core_services,
    create_backend_plugin,
    create_service_factory,
)
from backstage_backend_test_utils import start_test_backend
from backstage_common import errors
from litestar import get, post
from litestar.params import FromPath, JSONBody

# These tests exercise the backend's real auth services, not the test backend's mocks.
REAL_AUTH = [auth_service_factory, http_auth_service_factory]
TOKEN = "static-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXTERNAL_ACCESS = {
    "backend": {
        "auth": {
            "externalAccess": [
                {"type": "static", "options": {"token": TOKEN, "subject": "tests"}},
                {
                    "type": "static",
                    "options": {"token": "only-for-other-plugin", "subject": "narrow"},
                    "accessRestrictions": [{"plugin": "other"}],
                },
            ]
        }
    }
}


@get("/fail/{kind:str}")
async def fail(kind: FromPath[str]) -> None:
    error: Exception = {
        "input": errors.InputError("bad filter"),
        "auth": errors.AuthenticationError("who are you"),
        "notallowed": errors.NotAllowedError("nope"),
        "notfound": errors.NotFoundError("no entity"),
        "conflict": errors.ConflictError("already exists"),
        "unavailable": errors.ServiceUnavailableError("later"),
        "unknown": RuntimeError("something broke"),
    }[kind]
    raise error


@get("/ok")
async def ok() -> dict[str, str]:
    return {"status": "fine"}


@post("/echo")
async def echo(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    return data


def demo_plugin(*extra: Any, on_init: Callable[[], Any] | None = None):  # type: ignore[no-untyped-def]
    def register(env: PluginRegistrationPoints) -> None:
        async def init(
            router: core_services.HttpRouter, lifecycle: core_services.Lifecycle
        ) -> None:
            router.use(fail, ok, echo, *extra)
            router.add_auth_policy(path="/ok", allow="unauthenticated")
            if on_init is not None:
                await on_init()

        env.register_init(init)

    return create_backend_plugin(plugin_id="demo", register=register)


@pytest.mark.parametrize(
    ("kind", "status", "name"),
    [
        ("input", 400, "InputError"),
        ("auth", 401, "AuthenticationError"),
        ("notallowed", 403, "NotAllowedError"),
        ("notfound", 404, "NotFoundError"),
        ("conflict", 409, "ConflictError"),
        ("unavailable", 503, "ServiceUnavailableError"),
        ("unknown", 500, "RuntimeError"),
    ],
)
async def test_typed_errors_map_to_statuses_in_backstage_error_body(
    kind: str, status: int, name: str
) -> None:
    async with start_test_backend(
        features=[*REAL_AUTH, demo_plugin()], config=EXTERNAL_ACCESS
    ) as backend:
        response = await backend.client.get(f"/api/demo/fail/{kind}?x=1", headers=AUTH)
    assert response.status_code == status
    body = response.json()
    assert body["error"]["name"] == name
    assert body["response"] == {"statusCode": status}
    # as in Backstage, the URL is relative to the plugin's mount
    assert body["request"] == {"method": "GET", "url": f"/fail/{kind}?x=1"}
    assert "stack" not in body["error"]


async def test_stack_traces_only_when_configured() -> None:
    config = {"backend": {**EXTERNAL_ACCESS["backend"], "errors": {"showStackTraces": True}}}
    async with start_test_backend(features=[*REAL_AUTH, demo_plugin()], config=config) as backend:
        response = await backend.client.get("/api/demo/fail/unknown", headers=AUTH)
    assert "RuntimeError: something broke" in response.json()["error"]["stack"]


async def test_unknown_routes_and_bad_bodies_use_the_same_error_shape() -> None:
    async with start_test_backend(
        features=[*REAL_AUTH, demo_plugin()], config=EXTERNAL_ACCESS
    ) as backend:
        missing = await backend.client.get("/api/demo/nowhere", headers=AUTH)
        bad_json = await backend.client.post(
            "/api/demo/echo",
            content=b"{not json",
            headers={**AUTH, "content-type": "application/json"},
        )
    assert missing.status_code == 404
    assert missing.json()["error"]["name"] == "NotFoundError"
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["name"] == "InputError"


async def test_request_body_limit_answers_413() -> None:
    config = {"backend": {**EXTERNAL_ACCESS["backend"], "server": {"requestBodyLimit": "1kb"}}}
    async with start_test_backend(features=[*REAL_AUTH, demo_plugin()], config=config) as backend:
        small = await backend.client.post("/api/demo/echo", json={"a": "x" * 100}, headers=AUTH)
        large = await backend.client.post("/api/demo/echo", json={"a": "x" * 5000}, headers=AUTH)
        # the unread rest of a refused body stays on its connection: the 413 closes it, so
        # the client's next request goes out on a fresh one and is answered
        for _ in range(10):
            refused = await backend.client.post(
                "/api/demo/echo", json={"a": "x" * 300_000}, headers=AUTH
            )
            assert refused.status_code == 413
            assert refused.headers["connection"] == "close"
            after = await backend.client.post("/api/demo/echo", json={"a": "y"}, headers=AUTH)
            assert after.status_code == 201
    assert small.status_code == 201
    assert large.status_code == 413
    assert large.json()["error"]["name"] == "PayloadTooLargeError"
    assert large.json()["response"]["statusCode"] == 413


async def test_one_log_line_per_request_with_method_path_status_duration_plugin() -> None:
    lines: list[bytes] = []

    def capturing_root_logger(config: core_services.RootConfig) -> Any:
        return create_root_logger(config, write=lines.append)

    logger_factory = create_service_factory(
        service=core_services.root_logger, factory=capturing_root_logger
    )
    config = {"backend": {"logging": {"format": "json", "level": "info"}}}
    async with start_test_backend(
        features=[*REAL_AUTH, logger_factory, demo_plugin()], config=config
    ) as backend:
        await backend.client.get("/api/demo/ok")
        await backend.client.get("/.backstage/health/v1/liveness")
    entries = [json.loads(line) for line in lines]
    requests = [
        entry for entry in entries if entry.get("type") == "incomingRequest" and "status" in entry
    ]
    assert [(r["method"], r["url"], r["status"]) for r in requests] == [
        ("GET", "/api/demo/ok", 200),
        ("GET", "/.backstage/health/v1/liveness", 200),
    ]
    assert requests[0]["plugin"] == "demo"
    assert "plugin" not in requests[1]
    assert all(isinstance(r["durationMs"], float) for r in requests)


async def test_cors_follows_backend_cors() -> None:
    config = {
        "backend": {
            "cors": {
                "origin": ["http://localhost:3000", "https://*.example.com"],
                "methods": ["GET", "POST"],
                "credentials": True,
            }
        }
    }
    async with start_test_backend(features=[*REAL_AUTH, demo_plugin()], config=config) as backend:
        allowed = await backend.client.options(
            "/api/demo/fail/input",
            headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
        )
        denied = await backend.client.get("/api/demo/ok", headers={"Origin": "https://evil.test"})
        simple = await backend.client.get(
            "/api/demo/ok", headers={"Origin": "http://localhost:3000"}
        )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in denied.headers
    assert simple.headers["access-control-allow-origin"] == "http://localhost:3000"


async def test_no_cors_headers_without_backend_cors() -> None:
    async with start_test_backend(features=[*REAL_AUTH, demo_plugin()]) as backend:
        response = await backend.client.get(
            "/api/demo/ok", headers={"Origin": "http://localhost:3000"}
        )
    assert "access-control-allow-origin" not in response.headers


async def test_default_auth_policy_static_tokens_and_allowed_paths() -> None:
    async with start_test_backend(
        features=[*REAL_AUTH, demo_plugin()], config=EXTERNAL_ACCESS
    ) as backend:
        client = backend.client
        missing = await client.get("/api/demo/fail/notfound")
        wrong = await client.get(
            "/api/demo/fail/notfound", headers={"Authorization": "Bearer nope-nope-nope"}
        )
        narrow = await client.get(
            "/api/demo/fail/notfound", headers={"Authorization": "Bearer only-for-other-plugin"}
        )
        good = await client.get("/api/demo/fail/notfound", headers=AUTH)
        # a header the gate has seen pass, then ones that must not pass on its account
        again = await client.get("/api/demo/fail/notfound", headers=AUTH)
        longer = await client.get(
            "/api/demo/fail/notfound", headers={"Authorization": f"Bearer {TOKEN}x"}
        )
        narrow_again = await client.get(
            "/api/demo/fail/notfound", headers={"Authorization": "Bearer only-for-other-plugin"}
        )
        open_path = await client.get("/api/demo/ok")
        jwks = await client.get("/api/demo/.backstage/auth/v1/jwks.json")
    assert missing.status_code == 401
    assert missing.json()["error"] == {
        "name": "AuthenticationError",
        "message": "Missing credentials",
    }
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "Illegal token"
    assert narrow.status_code == 403
    assert "restricted to plugin(s) 'other'" in narrow.json()["error"]["message"]
    assert good.status_code == 404  # through the gate, to the route
    assert again.status_code == 404
    assert longer.status_code == 401
    assert narrow_again.status_code == 403
    assert open_path.status_code == 200
    assert jwks.json() == {"keys": []}


async def test_disabling_the_default_auth_policy_opens_every_route() -> None:
    config = {"backend": {"auth": {"dangerouslyDisableDefaultAuthPolicy": True}}}
    async with start_test_backend(features=[*REAL_AUTH, demo_plugin()], config=config) as backend:
        response = await backend.client.get("/api/demo/fail/notfound")
    assert response.status_code == 404


async def test_health_endpoints_and_configured_headers() -> None:
    config = {"backend": {"health": {"headers": {"x-unit": "all"}}}}
    async with start_test_backend(features=[*REAL_AUTH, demo_plugin()], config=config) as backend:
        live = await backend.client.get("/.backstage/health/v1/liveness")
        ready = await backend.client.get("/.backstage/health/v1/readiness")
    assert (live.status_code, live.json(), live.headers["x-unit"]) == (200, {"status": "ok"}, "all")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def _manual_backend(
    *features: Any, config: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Backend, httpx.AsyncClient]]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    data: dict[str, Any] = {
        "backend": {
            "baseUrl": base,
            "listen": {"host": "127.0.0.1", "port": port},
            "logging": {"level": "error"},
            "auth": {"dangerouslyDisableDefaultAuthPolicy": True},
            **((config or {}).get("backend", {})),
        }
    }
    backend = create_backend(config_data=data)
    for feature in features:
        backend.add(feature)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        try:
            yield backend, client
        finally:
            await backend.stop()


async def _wait_until_serving(client: httpx.AsyncClient) -> httpx.Response:
    for _ in range(500):
        try:
            return await client.get("/.backstage/health/v1/readiness")
        except httpx.TransportError:
            await asyncio.sleep(0.01)
    raise AssertionError("the backend never served")


async def test_readiness_is_503_until_plugins_start_and_requests_are_held_meanwhile() -> None:
    release = asyncio.Event()
    backend_plugin = demo_plugin(on_init=release.wait)
    async with _manual_backend(backend_plugin) as (backend, client):
        starting = asyncio.create_task(backend.start())
        early = await _wait_until_serving(client)
        assert early.status_code == 503
        assert early.json() == {"message": "Backend has not started yet", "status": "error"}
        held = asyncio.create_task(client.get("/api/demo/ok"))
        await asyncio.sleep(0.2)
        assert not held.done()  # held at the plugin's gate, not refused
        release.set()
        await starting
        assert (await held).status_code == 200
        ready = await client.get("/.backstage/health/v1/readiness")
        assert ready.status_code == 200


async def test_requests_to_a_plugin_that_does_not_start_in_time_get_503() -> None:
    release = asyncio.Event()
    config = {"backend": {"lifecycle": {"startupRequestPauseTimeout": "200ms"}}}
    async with _manual_backend(demo_plugin(on_init=release.wait), config=config) as (
        backend,
        client,
    ):
        starting = asyncio.create_task(backend.start())
        await _wait_until_serving(client)
        response = await client.get("/api/demo/ok")
        release.set()
        await starting
    assert response.status_code == 503
    assert response.json()["error"] == {
        "name": "ServiceUnavailableError",
        "message": "Service has not started up yet",
    }


async def test_graceful_stop_finishes_in_flight_requests_and_runs_hooks_in_reverse() -> None:
    events: list[str] = []
    in_handler = asyncio.Event()
    finish = asyncio.Event()

    @get("/slow")
    async def slow() -> dict[str, str]:
        in_handler.set()
        await finish.wait()
        return {"finished": "yes"}

    async def register_hooks() -> None:
        return None

    def register(env: PluginRegistrationPoints) -> None:
        async def init(
            router: core_services.HttpRouter, lifecycle: core_services.Lifecycle
        ) -> None:
            router.use(slow, ok)
            lifecycle.add_shutdown_hook(lambda: events.append("first registered"))
            lifecycle.add_shutdown_hook(lambda: events.append("second registered"))

        env.register_init(init)

    plugin = create_backend_plugin(plugin_id="demo", register=register)
    async with _manual_backend(plugin) as (backend, client):
        await backend.start()
        in_flight = asyncio.create_task(client.get("/api/demo/slow"))
        await in_handler.wait()
        stopping = asyncio.create_task(backend.stop())
        await asyncio.sleep(0.1)
        readiness = await client.get("/.backstage/health/v1/readiness")
        refused = await client.get("/api/demo/ok")
        assert not stopping.done()  # waits for the request in flight
        assert events == []  # hooks run only after the drain
        finish.set()
        response = await in_flight
        await stopping
    assert readiness.status_code == 503
    assert readiness.json() == {"message": "Backend is shutting down", "status": "error"}
    assert refused.status_code == 503
    assert refused.json()["error"]["message"] == "Service is shutting down"
    assert response.status_code == 200
    assert response.json() == {"finished": "yes"}
    assert events == ["second registered", "first registered"]
