"""The proxy in front of a real unit: nginx (Debian's) with the config rendered from the
topology, on a free loopback port, before the catalog unit started as the image starts it
(`backstage-py start`, the unit from BACKSTAGE_UNIT, the production config) on the real
Postgres and Redis."""

from __future__ import annotations

import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from backstage_backend_defaults.topology import render_nginx
from backstage_backend_test_utils import require_service_url

from ._support import REPO_ROOT, require_nginx, topology


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: object, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"{what}: the process exited early: {out!r} {err!r}")
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} never happened")


def stop(process: subprocess.Popen[bytes], signum: int) -> tuple[bytes, bytes]:
    if process.poll() is None:
        process.send_signal(signum)
    try:
        return process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


async def drop_databases(url: str, prefix: str) -> None:
    parts = urlsplit(url)
    admin = await asyncpg.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
        password=parts.password, database="postgres",
    )  # fmt: skip
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
        for row in rows:
            await admin.execute(f'DROP DATABASE IF EXISTS "{row[0]}" WITH (FORCE)')
    finally:
        await admin.close()


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

        wait_until(unit_ready, unit, "the catalog unit's readiness")

        # The same renderer as deploy/compose/nginx.conf; here the units are on loopback
        # (the search unit is not running: its port is free, so nginx answers 502).
        runtime = tmp_path / "nginx"
        runtime.mkdir()
        ports = {"catalog": unit_port, "search": free_port()}
        conf = runtime / "nginx.conf"
        conf.write_text(
            render_nginx(
                topology(),
                upstream=lambda name: f"127.0.0.1:{ports[name]}",
                listen=f"127.0.0.1:{proxy_port}",
                runtime_dir=runtime,
            )
        )
        command = [nginx, "-p", str(runtime), "-c", str(conf)]
        tested = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        assert tested.returncode == 0, tested.stderr
        proxy = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proxy_url = f"http://127.0.0.1:{proxy_port}"

        def proxy_up() -> bool:
            return httpx.get(f"{proxy_url}/nothing").status_code == 404

        wait_until(proxy_up, proxy, "nginx listening")
        yield Deployment(proxy=proxy_url, token=token, unit=unit, unit_url=base)
    finally:
        if proxy is not None:
            stop(proxy, signal.SIGQUIT)
        stop(unit, signal.SIGTERM)
        import asyncio

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
    # The default auth policy is on in the production config: no token, no entities.
    denied = httpx.get(f"{deployment.proxy}/api/catalog/entities")
    assert denied.status_code == 401
    assert denied.json()["error"]["name"] == "AuthenticationError"
    # A path no unit hosts, and one that only shares a prefix, get the proxy's JSON 404.
    for path in ("/api/catalogue/entities", "/api/unknown", "/"):
        missing = httpx.get(f"{deployment.proxy}{path}")
        assert missing.status_code == 404
        assert missing.json()["error"] == {
            "name": "NotFoundError",
            "message": "No unit hosts this path",
        }
    # /api/search goes to the search unit's address, where nothing listens in this test.
    assert httpx.get(f"{deployment.proxy}/api/search/query").status_code == 502

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
