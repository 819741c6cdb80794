"""The catalog's and search's OpenAPI documents against Backstage's published specs.

Backstage's specs are read from `@backstage/plugin-catalog-backend` and
`@backstage/plugin-search-backend` as published on npm (installed with `npm ci` from the
committed lock file); ours are what the running plugins serve at `/api/<pluginId>/openapi.json`.
Paths, methods, operation ids, request bodies and every parameter (where, name, required,
type, serialisation) must be the same.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_search_backend import search_plugin

HERE = Path(__file__).parent
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
PACKAGES = {
    "catalog": "@backstage/plugin-catalog-backend",
    "search": "@backstage/plugin-search-backend",
}


def _require_node() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm:
        return node, npm
    message = "node and npm are needed to read Backstage's published OpenAPI specs"
    if os.environ.get("BACKSTAGE_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def published() -> dict[str, dict[str, Any]]:
    """Backstage's specs by plugin id, from the npm packages."""
    node, npm = _require_node()
    subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                    "--loglevel=error"], cwd=HERE, check=True)  # fmt: skip
    specs = {}
    for plugin_id, package in PACKAGES.items():
        out = subprocess.run(
            [node, "print_spec.cjs", package], cwd=HERE, check=True, capture_output=True
        )
        specs[plugin_id] = json.loads(out.stdout)
    return specs


@pytest.fixture
async def served() -> dict[str, dict[str, Any]]:
    """Ours, as the plugins serve them."""
    async with start_test_backend(features=[catalog_plugin(), search_plugin()]) as backend:
        documents = {}
        for plugin_id in PACKAGES:
            response = await backend.client.get(f"/api/{plugin_id}/openapi.json")
            assert response.status_code == 200
            documents[plugin_id] = response.json()
        return documents


def _resolve(document: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        node: Any = document
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        item = node
    return item


def _schema_shape(document: dict[str, Any], schema: dict[str, Any]) -> tuple[Any, ...]:
    schema = _resolve(document, schema)
    items = _resolve(document, schema.get("items", {}))
    return (schema.get("type"), items.get("type"), tuple(schema.get("enum", ())))


def _parameters(document: dict[str, Any], path_item: dict[str, Any], operation: dict[str, Any]
                ) -> dict[tuple[str, str], tuple[Any, ...]]:  # fmt: skip
    """Each parameter by (in, name): required, its type and how it is serialised."""
    found = {}
    for raw in [*path_item.get("parameters", ()), *operation.get("parameters", ())]:
        parameter = _resolve(document, raw)
        where = parameter["in"]
        style = parameter.get("style", "form" if where == "query" else "simple")
        explode = parameter.get("explode", style == "form")
        found[(where, parameter["name"])] = (
            bool(parameter.get("required", False)),
            _schema_shape(document, parameter.get("schema", {})),
            style,
            explode,
        )
    return found


def _operations(document: dict[str, Any], prefix: str) -> dict[tuple[str, str], Any]:
    """(method, path) -> what a client relies on, paths relative to the plugin."""
    operations = {}
    for path, item in document["paths"].items():
        relative = path.removeprefix(prefix)
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = operation.get("requestBody")
            body = _resolve(document, body) if body is not None else None
            operations[(method.upper(), relative)] = {
                "operationId": operation.get("operationId"),
                "parameters": _parameters(document, item, operation),
                "body": None if body is None else bool(body.get("required", False)),
            }
    return operations


@pytest.mark.parametrize("plugin_id", list(PACKAGES))
async def test_paths_methods_and_parameters_match_backstage(
    plugin_id: str, published: dict[str, dict[str, Any]], served: dict[str, dict[str, Any]]
) -> None:
    theirs = _operations(published[plugin_id], "")
    ours = _operations(served[plugin_id], f"/api/{plugin_id}")
    assert sorted(ours) == sorted(theirs)
    for key, expected in theirs.items():
        assert ours[key] == expected, key
    # served with the mount path, so a client calls them against the backend's root
    assert all(path.startswith(f"/api/{plugin_id}/") for path in served[plugin_id]["paths"])
