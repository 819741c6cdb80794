"""No path spelling walks around a plugin's auth policy.

Every route of every installed plugin (the catalog and search today), as mounted in one
real backend with the default auth policy on, is requested without credentials under many
spellings of its path (doubled and tripled slashes, dot segments, percent-encoding, case,
trailing slashes, absolute form) and with every method. The backend's router is
instrumented to record each handler it actually runs: none may run unless its plugin allows
its path without credentials.

This lives in `tests/` rather than beside backend-defaults because it needs real plugins.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_defaults.http_router import BackendAsgiApp
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_cli.topology import installed_plugins, load_plugin
from litestar.routes import HTTPRoute

from ._raw_http import RawResponse, raw_request

TOKEN = "gate-paths-static-token"
ORIGIN = "http://localhost:3000"
CONFIG = {
    "backend": {
        "auth": {
            "externalAccess": [{"type": "static", "options": {"token": TOKEN, "subject": "t"}}]
        },
        "cors": {"origin": ORIGIN, "credentials": True},
    },
    # an open webhook topic among the paths; no bus polling, whose authenticated
    # background requests would run handlers while the test records them
    "events": {"http": {"topics": ["probe"]}, "useEventBus": "never"},
}
# PREFLIGHT: OPTIONS with Origin and Access-Control-Request-Method (CORS answers it);
# HALF_PREFLIGHT: OPTIONS with Access-Control-Request-Method only (it must pass the policy).
METHODS = (
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "OPTIONS",
    "PREFLIGHT",
    "HALF_PREFLIGHT",
)
_PARAM_VALUES: dict[type, str] = {
    int: "1",
    uuid.UUID: "00000000-0000-0000-0000-000000000001",
    Path: "a/b",
}


class Executions:
    """Records every handler the router runs: (method, routed path, handler name)."""

    def __init__(self, asgi: BackendAsgiApp) -> None:
        self.runs: list[tuple[str, str, str]] = []
        router = asgi.app.asgi_router
        original: Callable[..., Any] = router.handle_routing

        def recording(path: str, method: str | None) -> tuple[Any, ...]:
            app, handler, routed, params, template = original(path=path, method=method)

            async def run(scope: Any, receive: Any, send: Any) -> None:
                self.runs.append((scope["method"], scope["path"], handler.handler_name))
                await app(scope, receive, send)

            return run, handler, routed, params, template

        router.handle_routing = recording  # type: ignore[assignment]


@pytest.fixture
async def backend() -> AsyncIterator[tuple[TestBackend, BackendAsgiApp, Executions]]:
    plugins = installed_plugins()
    assert {"catalog", "search"} <= set(plugins)
    features: list[Any] = [auth_service_factory, http_auth_service_factory]
    for plugin_id in plugins:  # every installed plugin, with the modules it installs
        features += load_plugin(plugin_id)
    async with start_test_backend(features=features, config=CONFIG) as test:
        http: Any = await test.get_service(core.root_http_router)
        asgi: BackendAsgiApp = http.router.asgi
        yield test, asgi, Executions(asgi)


def plugin_paths(asgi: BackendAsgiApp) -> list[str]:
    """Every plugin route's path, its parameters filled in."""
    paths: set[str] = set()
    for route in asgi.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/"):
            continue
        path = route.path_format
        for parameter in route.path_parameters.values():
            value = _PARAM_VALUES.get(parameter.type, "x")
            path = path.replace("{" + parameter.name + "}", value)
        paths.add(path)
    return sorted(paths)


def spellings(path: str) -> set[str]:
    """Ways of writing `path` that a lax router could take for it."""
    segments = path.split("/")[1:]  # ["api", plugin, ...]
    plugin = segments[1]
    other = "search" if plugin != "search" else "catalog"
    out = {path, "/" + path, path + "/", path + "//", "/" + path + "/"}
    for i in range(1, len(segments) + 1):
        head, tail = "/".join(segments[:i]), "/".join(segments[i:])
        sep = "/" if tail else ""
        out.add(f"/{head}//{tail}")
        out.add(f"/{head}///{tail}")
        out.add(f"/{head}/./{tail}")
        out.add(f"/{head}/x/../{tail}")
        out.add(f"/{head}/%2e/{tail}")
        out.add(f"/{head}/x/%2e%2e/{tail}")
        out.add(f"/{head}/x/%2E%2E{sep}{tail}")
        if tail:
            out.add(f"/{head}%2F{tail}")
            out.add(f"/{head}%2f/{tail}")
    rest = "/".join(segments[2:])
    out |= {
        f"/api/{other}/../{plugin}/{rest}",
        f"/api/{other}/%2e%2e/{plugin}/{rest}",
        f"/../api/{plugin}/{rest}",
        f"/%61pi/{plugin}/{rest}",
        f"/api/%{ord(plugin[0]):02x}{plugin[1:]}/{rest}",
        f"/api%2F{plugin}%2F{rest}",
        f"/API/{plugin}/{rest}",
        f"/api/{plugin.upper()}/{rest}",
        f"/Api/{plugin.capitalize()}/{rest}",
        f"/api/{plugin}/./{rest}",
        f"//api//{plugin}//{rest}//",
        f"http://localhost{path}",  # absolute-form request targets
        f"http://localhost/{path}",
    }
    return out


async def send(test: TestBackend, method: str, target: str, **headers: str) -> RawResponse:
    host, port = test.base_url.removeprefix("http://").rsplit(":", 1)
    if method in ("PREFLIGHT", "HALF_PREFLIGHT"):
        headers["access-control-request-method"] = "POST"
        if method == "PREFLIGHT":
            headers["origin"] = ORIGIN
        method = "OPTIONS"
    body = b"{}" if method in ("POST", "PUT", "PATCH") else b""
    if body:
        headers["content-type"] = "application/json"
    return await raw_request(host, int(port), method, target, headers, body)


async def test_no_spelling_of_any_plugin_path_reaches_a_handler_without_credentials(
    backend: tuple[TestBackend, BackendAsgiApp, Executions],
) -> None:
    test, asgi, executions = backend
    paths = plugin_paths(asgi)
    assert {"/api/catalog/entities", "/api/catalog/locations", "/api/search/query"} <= set(paths)
    requests = [(m, t) for p in paths for t in sorted(spellings(p)) for m in METHODS]
    limit = asyncio.Semaphore(8)

    async def one(method: str, target: str) -> tuple[str, str, int]:
        async with limit:
            response = await send(test, method, target)
        return method, target, response.status

    statuses = await asyncio.gather(*(one(m, t) for m, t in requests))
    assert len(statuses) > 3000
    assert all(status < 500 for _, _, status in statuses), [s for s in statuses if s[2] >= 500]

    unauthorised = []
    for method, routed, handler in executions.runs:
        gate = asgi.gate(routed.split("/")[2]) if routed.startswith("/api/") else None
        if routed.startswith("/api/") and (gate is None or not gate.allows_unauthenticated(routed)):
            unauthorised.append((method, routed, handler))
    assert unauthorised == []
    # The paths every plugin opens (its public keys and its OpenAPI document) did run
    # without credentials, so the recording works; what else ran is open by the plugin's
    # own auth policy (checked above).
    assert {routed for _, routed, _ in executions.runs} >= {
        f"/api/{plugin_id}/{path}"
        for plugin_id in ("catalog", "search")
        for path in (".backstage/auth/v1/jwks.json", "openapi.json")
    }


async def test_the_canonical_path_and_its_spellings_pass_with_a_token(
    backend: tuple[TestBackend, BackendAsgiApp, Executions],
) -> None:
    test, _, executions = backend
    auth = {"authorization": f"Bearer {TOKEN}"}
    canonical = await send(test, "GET", "/api/catalog/entities?limit=1", **auth)
    doubled = await send(test, "GET", "//api//catalog/entities/?limit=1", **auth)
    search = await send(test, "GET", "/api/search/query?term=x", **auth)
    dotted = await send(test, "GET", "/api/search/../catalog/entities", **auth)
    assert (canonical.status, doubled.status, search.status) == (200, 200, 200)
    assert doubled.body == canonical.body
    assert dotted.status == 400
    assert b"InputError" in dotted.body
    assert [routed for _, routed, _ in executions.runs] == [
        "/api/catalog/entities",
        "/api/catalog/entities",
        "/api/search/query",
    ]


@pytest.mark.parametrize(
    "target",
    [
        "/api/catalog/entities?limit=2",
        "/api/catalog/entities/by-name/component/default/missing",
        "/api/catalog/entity-facets?facet=kind",
        "/api/search/query?term=x",
        "/api/catalog/.backstage/auth/v1/jwks.json",
        "/api/catalog/no-such-route",
    ],
)
async def test_head_answers_like_get_without_a_body(
    backend: tuple[TestBackend, BackendAsgiApp, Executions], target: str
) -> None:
    test, _, executions = backend
    auth = {"authorization": f"Bearer {TOKEN}"}
    get = await send(test, "GET", target, **auth)
    head = await send(test, "HEAD", target, **auth)
    anonymous_get = await send(test, "GET", target)
    anonymous_head = await send(test, "HEAD", target)
    assert head.status == get.status
    assert head.body == b""
    assert {k: v for k, v in head.headers.items() if k != "date"} == {
        k: v for k, v in get.headers.items() if k != "date"
    }
    assert anonymous_head.status == anonymous_get.status
    assert [method for method, _, _ in executions.runs] in (
        ["GET", "GET", "GET", "GET"],  # an open path: both anonymous requests ran too
        ["GET", "GET"],
        [],  # no route
    )
