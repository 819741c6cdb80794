"""The README's first command: the `all` unit started as a process with the development
config; the guest's token from `/api/auth/guest/refresh` is one the catalog accepts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ._units import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the unit exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/.backstage/health/v1/readiness").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"the unit did not become ready:\n{log.read_text()[-4000:]}")


def test_guest_token_of_the_all_unit_is_accepted_by_the_catalog(tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://localhost:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "BACKSTAGE_ENV" and not key.startswith("APP_CONFIG_")
    }
    env |= {"APP_CONFIG_backend_listen_port": str(port), "APP_CONFIG_backend_baseUrl": base_url}
    log = tmp_path / "unit.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "backstage_cli", "start"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(base_url, process, log)
        refresh = httpx.get(
            f"{base_url}/api/auth/guest/refresh", headers={"X-Requested-With": "XMLHttpRequest"}
        )
        assert refresh.status_code == 200, refresh.text
        identity = refresh.json()["backstageIdentity"]
        assert identity["identity"]["userEntityRef"] == "user:development/guest"
        headers = {"Authorization": f"Bearer {identity['token']}"}
        entities = httpx.get(
            f"{base_url}/api/catalog/entities/by-query",
            params={"filter": "kind=component", "limit": "1"},
            headers=headers,
        )
        assert entities.status_code == 200, entities.text
        # the catalog verified it as the guest user: it sets the user cookie only for users
        cookie = httpx.get(f"{base_url}/api/catalog/.backstage/auth/v1/cookie", headers=headers)
        assert cookie.status_code == 200, cookie.text
        assert "backstage-auth=" in cookie.headers["set-cookie"]
        head, payload, signature = identity["token"].split(".")
        forged = httpx.get(
            f"{base_url}/api/catalog/entities/by-query",
            headers={"Authorization": f"Bearer {head}.{payload}.{signature[::-1]}"},
        )
        assert forged.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=60)
