"""The proxy in front of a real unit: nginx (Debian's) with the config rendered from the
topology, on a free loopback port, before the catalog unit started as the image starts it
(`backstage-py start`, the unit from BACKSTAGE_UNIT, the production config) on the real
Postgres and Redis."""

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
from urllib.parse import urlsplit

import httpx
import pytest
from backstage_backend_test_utils import require_service_url

from ._processes import drop_databases, free_port, start_nginx, stop, wait_until
from ._support import REPO_ROOT, require_nginx


@dataclass
class Deployment:
    proxy: str
    token: str
    unit: subprocess.Popen[bytes]
    unit_url: str


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    postgres = require_service_url("BACKSTAGE_TEST_POSTGRES_URL")
    redis = require_service_url("BACKSTAGE_TEST_REDIS_URL")
    nginx = require_nginx()
    unit_port, proxy_port = free_port(), free_port()
    prefix = f"bstest_{uuid.uuid4().hex[:10]}_"
    token = secrets.token_urlsafe(16)

    # The unit's files laid out as in the image's /app, plus a local file for this machine.
    app = tmp_path / "app"
    (app / "deploy").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "deploy/app-config.production.yaml", app / "app-config.yaml")
    shutil.copy(REPO_ROOT / "deploy/topology.yaml", app / "deploy/topology.yaml")
    (app / "app-config.local.yaml").write_text(
        f"backend:\n  listen: {{host: 127.0.0.1, port: {unit_port}}}\n"
        f"  database: {{prefix: {prefix}}}\n"
        f"  cache: {{redis: {{client: {{namespace: {prefix}}}}}}}\n"
    )
    pg = urlsplit(postgres)
    env = {
        "PATH": str(Path(sys.executable).parent),
        "BACKSTAGE_UNIT": "catalog",
        "BACKSTAGE_BASE_URL": f"http://127.0.0.1:{proxy_port}",
        "POSTGRES_HOST": pg.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(pg.port or 5432),
        "POSTGRES_USER": pg.username or "postgres",
        "BACKSTAGE_DATABASE_PASSWORD": pg.password or "",
        "BACKSTAGE_CACHE_URL": redis,
        "BACKSTAGE_EXTERNAL_TOKEN": token,
        "BACKSTAGE_SHUTDOWN_DELAY": "0s",
    }
    script = Path(sys.executable).parent / "backstage-py"
    unit = subprocess.Popen(
        [str(script), "start"], cwd=app, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proxy: subprocess.Popen[bytes] | None = None
    try:
        base = f"http://127.0.0.1:{unit_port}"

        def unit_ready() -> bool:
            return httpx.get(f"{base}/.backstage/health/v1/readiness").status_code == 200

        wait_until(unit_ready, "the catalog unit's readiness", alive=[unit])

        # The same renderer as deploy/compose/nginx.conf; here the units are on loopback
        # (the search unit is not running: its port is free, so nginx answers 502).
        ports = {"catalog": unit_port, "search": free_port()}
        proxy = start_nginx(nginx, tmp_path / "nginx", ports=ports, listen_port=proxy_port)
        proxy_url = f"http://127.0.0.1:{proxy_port}"
        yield Deployment(proxy=proxy_url, token=token, unit=unit, unit_url=base)
    finally:
        if proxy is not None:
            stop(proxy, signal.SIGQUIT)
        stop(unit, signal.SIGTERM)
        asyncio.run(drop_databases(postgres, prefix))


def test_the_proxy_routes_catalog_paths_to_the_catalog_unit(deployment: Deployment) -> None:
    auth = {"Authorization": f"Bearer {deployment.token}"}
    entities = httpx.get(f"{deployment.proxy}/api/catalog/entities", headers=auth)
    assert entities.status_code == 200
    assert entities.json() == []
    # The unit sees the path below /api/catalog and the query string as the client sent
    # them: its own 404 body echoes them.
    unknown = httpx.get(
        f"{deployment.proxy}/api/catalog/nope?filter=kind%3Dcomponent&x=1", headers=auth
    )
    assert unknown.status_code == 404
    assert unknown.json()["request"] == {
        "method": "GET",
        "url": "/nope?filter=kind%3Dcomponent&x=1",
    }
    # A body past nginx's default limit (1 MB) reaches the unit, which answers it itself.
    large = httpx.post(
        f"{deployment.proxy}/api/catalog/validate-entity",
        headers={**auth, "content-type": "application/json"},
        content=b'{"entity": {}, "location": "' + b"x" * 2_000_000 + b'"}',
    )
    assert large.status_code == 400, large.text
    assert large.json()["errors"][0]["name"] == "InputError"
    # The default auth policy is on in the production config: no token, no entities.
    denied = httpx.get(f"{deployment.proxy}/api/catalog/entities")
    assert denied.status_code == 401
    assert denied.json()["error"]["name"] == "AuthenticationError"
    # An /api path no unit hosts, and one that only shares a prefix, get the proxy's JSON 404.
    for path in ("/api/catalogue/entities", "/api/unknown", "/api/"):
        missing = httpx.get(f"{deployment.proxy}{path}")
        assert missing.status_code == 404
        assert missing.json()["error"] == {
            "name": "NotFoundError",
            "message": "No unit hosts this path",
        }
    # /api/search goes to the search unit's address, and every other path (the frontend's)
    # to the app unit's: nothing listens there in this test.
    assert httpx.get(f"{deployment.proxy}/api/search/query").status_code == 502
    assert httpx.get(f"{deployment.proxy}/").status_code == 502
    assert httpx.get(f"{deployment.proxy}/catalog/default").status_code == 502

    # The container health check Compose and the image run: 0 when ready, 1 otherwise.
    script = str(Path(sys.executable).parent / "backstage-py")
    readiness = f"{deployment.unit_url}/.backstage/health/v1/readiness"
    healthy = subprocess.run([script, "healthcheck", "--url", readiness], capture_output=True)
    assert healthy.returncode == 0
    assert healthy.stdout == b"ready\n"
    down = f"http://127.0.0.1:{free_port()}/.backstage/health/v1/readiness"
    unhealthy = subprocess.run([script, "healthcheck", "--url", down], capture_output=True)
    assert unhealthy.returncode == 1
    assert b"Connection refused" in unhealthy.stderr

    out, _ = stop(deployment.unit, signal.SIGTERM)
    assert deployment.unit.returncode == 0
    log = out.decode()
    assert '"url":"/api/catalog/entities","status":200' in log
    assert '"url":"/api/catalog/entities","status":401' in log
    assert "/api/catalogue" not in log
