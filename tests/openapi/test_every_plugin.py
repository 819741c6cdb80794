"""Every installed plugin serves an OpenAPI document at `/api/<pluginId>/openapi.json`,
without credentials, describing its own routes under its mount path."""

from __future__ import annotations

from typing import Any

from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_test_utils import start_test_backend
from backstage_cli.topology import installed_plugins, load_plugin

TOKEN = "openapi-every-plugin-token"
CONFIG = {
    "backend": {
        "auth": {
            "externalAccess": [{"type": "static", "options": {"token": TOKEN, "subject": "t"}}]
        }
    }
}
METHODS = ("get", "put", "post", "delete", "patch")


async def test_every_installed_plugin_serves_its_document_open_to_all() -> None:
    plugins = installed_plugins()
    assert {"catalog", "search"} <= set(plugins)
    features: list[Any] = [auth_service_factory, http_auth_service_factory]
    for plugin_id in plugins:  # as units load them, with the modules they install
        features += load_plugin(plugin_id)
    async with start_test_backend(features=features, config=CONFIG) as test:
        for plugin_id in plugins:
            response = await test.client.get(f"/api/{plugin_id}/openapi.json")
            assert response.status_code == 200, (plugin_id, response.text)
            assert response.headers["content-type"].startswith("application/json")
            document = response.json()
            assert document["openapi"].startswith("3."), plugin_id
            assert document["paths"], plugin_id
            for path, item in document["paths"].items():
                assert path.startswith(f"/api/{plugin_id}/"), (plugin_id, path)
                assert any(method in item for method in METHODS), (plugin_id, path)
