"""The index plugin: requests outside `/api` and `/.backstage` that no root route answers go
to the `app` plugin's routes, through its gate, as Backstage forwards them to `/api/app`."""

from __future__ import annotations

import asyncio
from typing import Any

from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_plugin_api import (
    PluginRegistrationPoints,
    core_services,
    create_backend_plugin,
)
from backstage_backend_test_utils import start_test_backend
from litestar import Request, get, post
from litestar.params import FromPath


@get("/")
async def index(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"served": "index", "path": request.url.path}


@get("/{rest:path}")
async def anything(rest: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"served": rest, "path": request.url.path}


@post("/form")
async def form() -> dict[str, str]:
    return {"served": "post"}


@get("/secret")
async def secret() -> dict[str, str]:
    return {"served": "secret"}


def app_plugin(*, open_paths: tuple[str, ...] = ("/",)):  # type: ignore[no-untyped-def]
    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core_services.HttpRouter) -> None:
            router.use(index, anything, form, secret)
            for path in open_paths:
                router.add_auth_policy(path=path, allow="unauthenticated")

        env.register_init(init)

    return create_backend_plugin(plugin_id="app", register=register)


REAL_AUTH = [auth_service_factory, http_auth_service_factory]


async def test_paths_outside_api_reach_the_app_plugin() -> None:
    async with start_test_backend(features=[*REAL_AUTH, app_plugin()]) as backend:
        root = await backend.client.get("/")
        deep = await backend.client.get("/catalog/default/component/x")
        mounted = await backend.client.get("/api/app/catalog")
        posted = await backend.client.post("/form")
    assert root.status_code == 200
    assert root.json() == {"served": "index", "path": "/api/app"}
    assert deep.json() == {"served": "/catalog/default/component/x", "path": deep.json()["path"]}
    assert deep.json()["path"] == "/api/app/catalog/default/component/x"
    # the same routes answer under the plugin's own mount
    assert mounted.json()["served"] == "/catalog"
    assert posted.json() == {"served": "post"}


async def test_api_and_backstage_paths_never_reach_the_index() -> None:
    async with start_test_backend(features=[*REAL_AUTH, app_plugin()]) as backend:
        unknown_plugin = await backend.client.get("/api/nothing/here")
        bare_api = await backend.client.get("/api")
        backstage = await backend.client.get("/.backstage/unknown")
        health = await backend.client.get("/.backstage/health/v1/liveness")
    assert unknown_plugin.status_code == 404
    assert bare_api.status_code == 404
    assert backstage.status_code == 404
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}


async def test_the_index_plugin_keeps_its_auth_policy() -> None:
    async with start_test_backend(
        features=[*REAL_AUTH, app_plugin(open_paths=("/catalog",))]
    ) as backend:
        closed = await backend.client.get("/secret")
        closed_double_slash = await backend.client.get("//secret")
        open_ = await backend.client.get("/catalog/x")
    assert closed.status_code == 401
    assert closed.json()["error"]["name"] == "AuthenticationError"
    assert closed_double_slash.status_code == 401
    assert open_.status_code == 200


async def _raw_get(port: int, target: str) -> bytes:
    """A GET of `target` exactly as written: HTTP clients resolve dot segments first."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode())
    answer = await reader.read()
    writer.close()
    return answer.split(b" ", 2)[1]


async def test_dot_segments_are_refused_before_the_index() -> None:
    async with start_test_backend(features=[*REAL_AUTH, app_plugin()]) as backend:
        port = int(backend.base_url.rsplit(":", 1)[1])
        statuses = {
            target: await _raw_get(port, target)
            for target in (
                "/static/../../etc/passwd",
                "/static/%2e%2e/%2e%2e/etc/passwd",
                "/static/%2E%2E%2F%2E%2E%2Fetc/passwd",
                "/./api/app",
                "/catalog/..",
            )
        }
    assert statuses == dict.fromkeys(statuses, b"400")


async def test_without_an_app_plugin_other_paths_are_404() -> None:
    async with start_test_backend(features=[*REAL_AUTH]) as backend:
        response = await backend.client.get("/catalog")
    assert response.status_code == 404
