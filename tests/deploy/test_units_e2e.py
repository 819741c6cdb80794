"""Two units as separate processes, wired by the topology: the `catalog` unit and the
`search` unit started as the image starts them (`backstage-py start --unit <name>
--config ...`, granian), each on a free loopback port, sharing the real Postgres (a
database per plugin under a prefix of this test) and Redis (a namespace of this test).
Discovery is the topology's own derivation, the Compose one with loopback addresses.

The catalog ingests the example catalog; search indexes it through discovery with a
plugin token and answers queries; callers without a token are refused by both units. With
the catalog killed, search's next indexing run fails cleanly and the old index is still
served; with the catalog back on its port, the run after that succeeds. The same story
runs a second time with nginx in front (rendered from the topology), the client knowing
only the proxy's URL."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from backstage_backend_test_utils import require_service_url
from backstage_cli.topology import compose_discovery_config

from ._processes import (
    delete_cache_keys,
    drop_databases,
    free_port,
    start_nginx,
    stop,
    wait_until,
)
from ._support import REPO_ROOT, require_nginx, topology
from ._units import (
    EXAMPLE_KINDS,
    EXAMPLES,
    WORK_TIMEOUT,
    UnitProcess,
    entity_ref,
    example_entities,
)


@dataclass
class Deployment:
    catalog: UnitProcess
    search: UnitProcess
    token: str
    base_urls: dict[str, str]
    """Where the client sends each plugin's requests: the units, or only the proxy."""
    proxy_log: Path | None = None
    """nginx's access log, when the client goes through the proxy."""

    def units(self) -> list[UnitProcess]:
        return [self.catalog, self.search]

    def describe(self) -> str:
        return "\n".join(unit.tail() for unit in self.units())

    def api(self, plugin_id: str, path: str) -> str:
        return f"{self.base_urls[plugin_id]}/api/{plugin_id}{path}"

    def get(
        self, plugin_id: str, path: str, *, token: bool = True, **params: str
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        return httpx.get(self.api(plugin_id, path), headers=headers, params=params, timeout=30)


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(params=["direct", "proxy"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    postgres = require_service_url("BACKSTAGE_TEST_POSTGRES_URL")
    redis_url = require_service_url("BACKSTAGE_TEST_REDIS_URL")
    through_proxy = request.param == "proxy"
    nginx = require_nginx() if through_proxy else None
    ports = {unit: free_port() for unit in topology().units}
    proxy_port = free_port()
    prefix = f"bstest_{uuid.uuid4().hex[:10]}_"
    token = secrets.token_urlsafe(16)

    # The image's /app: the production config and the topology; then what this machine
    # adds: discovery derived from the topology with each unit on its loopback port, the
    # test's database prefix and cache namespace, the example catalog, a short indexing
    # schedule, and each unit's own listen port.
    app = tmp_path / "app"
    (app / "deploy").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "deploy/app-config.production.yaml", app / "app-config.yaml")
    shutil.copy(REPO_ROOT / "deploy/topology.yaml", app / "deploy/topology.yaml")
    discovery = compose_discovery_config(
        topology(), unit_url=lambda unit: f"http://127.0.0.1:{ports[unit]}"
    )
    shared = write_yaml(
        app / "app-config.e2e.yaml",
        {
            "backend": {
                # one process per unit: the catalog is killed with SIGKILL below
                # (tests/workers covers units of several workers)
                "workers": 1,
                "database": {"prefix": prefix},
                "cache": {"redis": {"client": {"namespace": prefix}}},
            },
            **discovery,
            "catalog": {
                "locations": [
                    {
                        "type": "file",
                        "target": str(EXAMPLES / "all.yaml"),
                        "rules": [{"allow": EXAMPLE_KINDS}],
                    }
                ]
            },
            "search": {
                "engine": "postgres",
                "collators": {
                    "catalog": {
                        "schedule": {
                            "frequency": {"seconds": 2},
                            "timeout": {"seconds": 60},
                            "initialDelay": {"seconds": 1},
                        }
                    }
                },
            },
        },
    )
    pg = urlsplit(postgres)
    env = {
        "PATH": str(Path(sys.executable).parent),
        "BACKSTAGE_BASE_URL": f"http://127.0.0.1:{proxy_port}",
        "POSTGRES_HOST": pg.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(pg.port or 5432),
        "POSTGRES_USER": pg.username or "postgres",
        "BACKSTAGE_DATABASE_PASSWORD": pg.password or "",
        "BACKSTAGE_CACHE_URL": redis_url,
        "BACKSTAGE_EXTERNAL_TOKEN": token,
        "BACKSTAGE_SHUTDOWN_DELAY": "0s",
    }
    script = str(Path(sys.executable).parent / "backstage-py")
    units: dict[str, UnitProcess] = {}
    for name, port in ports.items():
        own = write_yaml(
            app / f"app-config.{name}.yaml",
            {"backend": {"listen": {"host": "127.0.0.1", "port": port}}},
        )
        configs = ["app-config.yaml", shared.name, own.name]
        units[name] = UnitProcess(
            name=name,
            port=port,
            command=[script, "start", "--unit", name]
            + [arg for config in configs for arg in ("--config", config)],
            cwd=app,
            env=env,
            log=tmp_path / f"{name}.log",
        )
    proxy: subprocess.Popen[bytes] | None = None
    try:
        for unit in units.values():
            unit.start()
        for unit in units.values():
            unit.wait_ready()
        base_urls = {plugin: units[unit].url for plugin, unit in topology().placement().items()}
        if nginx is not None:
            proxy = start_nginx(nginx, tmp_path / "nginx", ports=ports, listen_port=proxy_port)
            base_urls = dict.fromkeys(base_urls, f"http://127.0.0.1:{proxy_port}")
        yield Deployment(
            catalog=units["catalog"],
            search=units["search"],
            token=token,
            base_urls=base_urls,
            proxy_log=None if proxy is None else tmp_path / "nginx/access.log",
        )
    finally:
        if proxy is not None:
            stop(proxy, signal.SIGQUIT)
        for unit in units.values():
            unit.stop()
        asyncio.run(drop_databases(postgres, prefix))
        asyncio.run(delete_cache_keys(redis_url, prefix))


def test_search_indexes_the_catalog_across_units(deployment: Deployment) -> None:
    catalog, search = deployment.catalog, deployment.search
    entities = example_entities()
    users = [entity for entity in entities if entity["kind"] == "User"]
    assert (len(entities), len(users)) == (29, 5)

    # Both units refuse callers without a token.
    for plugin_id, path in (("catalog", "/entities"), ("search", "/query?term=checkout")):
        denied = httpx.get(deployment.api(plugin_id, path), timeout=30)
        assert denied.status_code == 401, (plugin_id, denied.text)
        assert denied.json()["error"]["name"] == "AuthenticationError"

    # The catalog ingests the example catalog from its configured location: every entity
    # is served, the users among them.
    refs = [entity_ref(entity) for entity in entities]

    def ingested() -> bool:
        response = httpx.post(
            deployment.api("catalog", "/entities/by-refs"),
            json={"entityRefs": refs, "fields": ["kind"]},
            headers={"Authorization": f"Bearer {deployment.token}"},
            timeout=30,
        )
        return response.status_code == 200 and None not in response.json()["items"]

    wait_until(
        ingested,
        "ingestion of the example catalog",
        alive=[catalog.running()],
        timeout=WORK_TIMEOUT,
        describe=deployment.describe,
    )
    served = deployment.get("catalog", "/entities", fields="kind,metadata.name").json()
    assert sorted(entity["metadata"]["name"] for entity in served if entity["kind"] == "User") == (
        sorted(user["metadata"]["name"] for user in users)
    )
    # With the Locations that led to them.
    total = len(served)
    assert total > len(entities)

    # Search reads the whole catalog through discovery with a plugin token of its own
    # (the catalog accepts no call without one) and indexes every entity.
    indexed = f"Indexed {total} documents of type 'software-catalog'"
    search.wait_for_record(indexed, since=0, what="a full indexing run")
    # The collator pages through by-query, which this test never calls itself.
    reads = [
        record["status"]
        for record in catalog.records()
        if record.get("url") == "/api/catalog/entities/by-query"
    ]
    assert set(reads) == {200}, reads
    found = deployment.get("search", "/query", term="checkout")
    assert found.status_code == 200, found.text
    results = found.json()["results"]
    locations = {result["document"]["location"] for result in results}
    assert {
        "/catalog/default/component/checkout-service",
        "/catalog/default/api/checkout-api",
        "/catalog/default/system/checkout",
    } <= locations
    assert {result["type"] for result in results} == {"software-catalog"}

    # The catalog dies: the next indexing run fails with a clear message, the index built
    # before is still served, and search stays ready.
    mark = search.log_size()
    assert catalog.stop(signal.SIGKILL) == -signal.SIGKILL
    failure = search.wait_for_record(
        "Indexing of type 'software-catalog' failed, the previous index is kept",
        since=mark,
        what="a failed indexing run while the catalog is down",
    )
    assert f"Could not read entities from the catalog at {catalog.url}/api/catalog" in str(
        failure["message"]
    )
    assert failure["level"] == "error"
    assert search.ready()
    still = deployment.get("search", "/query", term="checkout")
    assert still.status_code == 200, still.text
    assert still.json()["results"] == results

    # The catalog comes back on its port: the next run succeeds again.
    mark = search.log_size()
    catalog.start()
    catalog.wait_ready()
    search.wait_for_record(indexed, since=mark, what="a full indexing run after the restart")
    again = deployment.get("search", "/query", term="checkout")
    assert again.status_code == 200, again.text
    assert {result["document"]["location"] for result in again.json()["results"]} == locations

    if deployment.proxy_log is not None:
        # The client's calls went through the proxy and reached the unit of each plugin.
        access = deployment.proxy_log.read_text()
        assert '"GET /api/search/query?term=checkout HTTP/1.1" 200' in access
        assert '"POST /api/catalog/entities/by-refs HTTP/1.1" 200' in access

    # Both units shut down cleanly on SIGTERM.
    assert search.stop() == 0, search.tail()
    assert catalog.stop() == 0, catalog.tail()
