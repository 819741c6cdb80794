"""Every plugin serves an OpenAPI document at `/api/<pluginId>/openapi.json`, open to all."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from backstage_backend_defaults import BackendStartupError
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    core_services,
    create_backend_plugin,
)
from backstage_backend_test_utils import start_test_backend
from litestar import get, post
from litestar.params import FromPath, FromQuery, JSONBody

REAL_AUTH = [auth_service_factory, http_auth_service_factory]
TOKEN = "static-token-for-openapi-tests"
CONFIG = {
    "backend": {
        "auth": {
            "externalAccess": [{"type": "static", "options": {"token": TOKEN, "subject": "t"}}]
        }
    }
}
GIVEN = {
    "openapi": "3.1.0",
    "info": {"title": "documented", "version": "1"},
    "paths": {"/things/{id}": {"get": {"responses": {"200": {"description": "a thing"}}}}},
}


@get("/things/{thing_id:str}")
async def get_thing(thing_id: FromPath[str], limit: FromQuery[int | None] = None) -> dict[str, str]:
    return {"id": thing_id}


@post("/things")
async def add_thing(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    return data


def _plugin(
    plugin_id: str,
    document: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
) -> BackendPlugin:
    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core_services.HttpRouter) -> None:
            router.use(get_thing, add_thing)
            if document is not None:
                router.set_openapi_document(document)

        env.register_init(init)

    return create_backend_plugin(plugin_id=plugin_id, register=register)


async def test_a_plugin_without_a_document_serves_one_generated_from_its_routes() -> None:
    async with start_test_backend(features=[*REAL_AUTH, _plugin("generated")], config=CONFIG) as t:
        response = await t.client.get("/api/generated/openapi.json")
        assert response.status_code == 200
        document = response.json()
        assert document["openapi"].startswith("3.")
        assert document["info"]["title"] == "generated"
        paths = document["paths"]
        # prefixed with the mount path, as Backstage serves its documents
        assert set(paths) >= {"/api/generated/things/{thing_id}", "/api/generated/things"}
        assert "/api/generated/openapi.json" not in paths
        operation = paths["/api/generated/things/{thing_id}"]["get"]
        assert {(p["in"], p["name"]) for p in operation["parameters"]} == {
            ("path", "thing_id"),
            ("query", "limit"),
        }
        # errors are documented as Backstage's body, not Litestar's validation body
        assert "400" not in operation["responses"]
        error = operation["responses"]["default"]["content"]["application/json"]["schema"]
        assert error["required"] == ["error", "response"]
        # the routes themselves still need credentials
        assert (await t.client.get("/api/generated/things/a")).status_code == 401
        authed = await t.client.get(
            "/api/generated/things/a", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert authed.json() == {"id": "a"}


async def test_a_plugin_document_is_served_with_its_paths_under_the_mount_path() -> None:
    plugins = [_plugin("documented", GIVEN), _plugin("other")]
    async with start_test_backend(features=[*REAL_AUTH, *plugins], config=CONFIG) as t:
        document = (await t.client.get("/api/documented/openapi.json")).json()
        assert document["info"] == GIVEN["info"]
        assert list(document["paths"]) == ["/api/documented/things/{id}"]
        other = (await t.client.get("/api/other/openapi.json")).json()
        assert all(path.startswith("/api/other/") for path in other["paths"])
        head = await t.client.head("/api/documented/openapi.json")
        assert head.status_code == 200


async def test_a_document_given_as_a_function_is_loaded_on_the_first_request_for_it() -> None:
    loads: list[str] = []

    def load() -> dict[str, Any]:
        loads.append("loaded")
        return GIVEN

    async with start_test_backend(features=[*REAL_AUTH, _plugin("lazy", load)], config=CONFIG) as t:
        assert loads == []  # not at start-up
        for _ in range(2):
            document = (await t.client.get("/api/lazy/openapi.json")).json()
            assert list(document["paths"]) == ["/api/lazy/things/{id}"]
        assert loads == ["loaded"]


async def test_a_malformed_document_given_as_a_function_fails_its_request() -> None:
    plugin = _plugin("lazy-broken", lambda: {"info": {"title": "no version, no paths"}})
    async with start_test_backend(features=[*REAL_AUTH, plugin], config=CONFIG) as t:
        response = await t.client.get("/api/lazy-broken/openapi.json")
        assert response.status_code == 500
        assert response.json()["response"] == {"statusCode": 500}


async def test_setting_a_malformed_document_fails_the_plugin_start() -> None:
    plugin = _plugin("broken", {"info": {"title": "no version, no paths"}})
    with pytest.raises(BackendStartupError, match="'openapi' version and 'paths'"):
        async with start_test_backend(features=[plugin], config=CONFIG):
            pass
