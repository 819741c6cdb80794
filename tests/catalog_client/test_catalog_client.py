"""Backstage's own `@backstage/catalog-client` (from npm) against the catalog plugin.

The catalog is seeded from the project's example catalog (`examples/catalog`) and one
location served over HTTP; `check_client.mjs` calls every CatalogClient method and checks
what comes back, including that returned entities pass `@backstage/catalog-model`'s own
validators.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from backstage_backend_test_utils import npm_ci, postgres_database_config, start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin

HERE = Path(__file__).parent
EXAMPLES = HERE.parent.parent / "examples" / "catalog"
CLIENT_METHODS = [
    "getEntities",
    "getEntitiesByRefs",
    "queryEntities",
    "streamEntities",
    "getEntityByRef",
    "getEntityByName",
    "getEntityAncestors",
    "getEntityFacets",
    "refreshEntity",
    "validateEntity",
    "analyzeLocation",
    "addLocation",
    "getLocations",
    "getLocationById",
    "getLocationByRef",
    "queryLocations",
    "streamLocations",
    "getLocationByEntity",
    "updateLocation",
    "removeLocationById",
    "removeEntityByUid",
]
REGISTERED_COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: loyalty-service
spec:
  type: service
  lifecycle: experimental
  owner: payments
"""


@pytest.fixture(scope="module")
def client_packages() -> None:
    """`npm ci` from the committed lock file, once per run."""
    npm_ci(HERE, "run Backstage's catalog client")


@pytest.fixture(params=["sqlite", "postgres"])
async def database_config(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """`backend.database`: SQLite in memory, or a fresh database on the test Postgres."""
    if request.param == "sqlite":
        yield {"client": "better-sqlite3", "connection": ":memory:"}
        return
    async with postgres_database_config() as config:
        yield config


@pytest.fixture
def served_location(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A catalog-info.yaml on a local HTTP server: (its URL, the host:port to allow)."""
    (tmp_path / "catalog-info.yaml").write_text(REGISTERED_COMPONENT)
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host = f"127.0.0.1:{server.server_address[1]}"
    try:
        yield f"http://{host}/catalog-info.yaml", host
    finally:
        server.shutdown()
        server.server_close()


async def _wait_for_entities(client: httpx.AsyncClient, count: int) -> None:
    for _ in range(300):
        response = await client.get(
            "/api/catalog/entities/by-query", params={"limit": "0", "filter": "kind=user"}
        )
        if response.status_code == 200 and response.json()["totalItems"] >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the example catalog was not ingested in time")


@pytest.mark.usefixtures("client_packages")
async def test_every_catalog_client_method(
    served_location: tuple[str, str], database_config: dict[str, Any]
) -> None:
    location_url, allowed_host = served_location
    config = {
        "backend": {"database": database_config, "reading": {"allow": [{"host": allowed_host}]}},
        "catalog": {
            "processingInterval": {"seconds": 1},
            "locations": [
                {
                    "type": "file",
                    "target": str(EXAMPLES / "all.yaml"),
                    "rules": [
                        {"allow": ["Group", "User", "Domain", "System", "Component", "API"]},
                        {"allow": ["Resource", "Location"]},
                    ],
                }
            ],
        },
    }
    async with start_test_backend(features=[catalog_plugin()], config=config) as test:
        await _wait_for_entities(test.client, 5)
        process = await asyncio.create_subprocess_exec(
            "node",
            str(HERE / "check_client.mjs"),
            cwd=HERE,
            env={
                **os.environ,
                "CATALOG_BASE_URL": f"{test.base_url}/api/catalog",
                "LOCATION_URL": location_url,
                "LOCATION_ENTITY": "component:default/loyalty-service",
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()[-4000:]
    passed = json.loads(stdout.decode().strip().splitlines()[-1])["passed"]
    assert passed == [*CLIENT_METHODS, "compressedResponses"]
