"""Two backends on loopback, as two units: the catalog in one, the auth plugin with the
`oidc` and `github` provider modules in the other, each finding the other's plugin through
discovery, both with the real auth services (tokens verified against the issuer's keys).

The catalog serves a few users and a group from a file location; the auth plugin's
resolvers find them over HTTP with its own plugin token.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_plugin_auth_backend import auth_plugin
from backstage_plugin_auth_backend_module_github_provider import auth_module_github_provider
from backstage_plugin_auth_backend_module_oidc_provider import auth_module_oidc_provider
from backstage_plugin_catalog_backend import catalog_plugin

__all__ = ["APP_URL", "CATALOG_TOKEN", "USERS_YAML", "Units", "free_port", "start_units"]

APP_URL = "http://localhost:3000"
CATALOG_TOKEN = "catalog-reader-static-token-for-the-sign-in-tests"
SESSION_SECRET = "a-session-secret-for-the-sign-in-tests"
USERS_YAML = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: jane
spec:
  profile:
    email: jane@example.com
  memberOf: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: octo-jane
  annotations:
    github.com/user-id: MDQ6VXNlcjQyNDI=
spec:
  memberOf: [team-a]
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Units:
    """The two running backends."""

    auth: TestBackend
    catalog: TestBackend

    @property
    def auth_url(self) -> str:
        return f"{self.auth.base_url}/api/auth"


def _discovery(plugin: str, base_url: str) -> dict[str, Any]:
    return {"endpoints": [{"target": f"{base_url}/api/{{{{pluginId}}}}", "plugins": [plugin]}]}


async def _wait_for_users(catalog: TestBackend) -> None:
    headers = {"Authorization": f"Bearer {CATALOG_TOKEN}"}
    for _ in range(300):
        response = await catalog.client.get(
            "/api/catalog/entities/by-query",
            params={"filter": "kind=user", "limit": "0"},
            headers=headers,
        )
        if response.status_code == 200 and response.json()["totalItems"] >= 2:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the catalog did not ingest the test users in time")


@asynccontextmanager
async def start_units(
    tmp_path: Path,
    *,
    auth_port: int,
    providers: Mapping[str, Any],
    log_level: str = "warn",
) -> AsyncIterator[Units]:
    """The catalog unit, then the auth unit on `auth_port` with `auth.providers`; the
    auth unit logs JSON lines at `log_level`."""
    catalog_port = free_port()
    catalog_url = f"http://127.0.0.1:{catalog_port}"
    auth_url = f"http://127.0.0.1:{auth_port}"
    (tmp_path / "users.yaml").write_text(USERS_YAML)
    catalog_config = {
        "backend": {
            "baseUrl": catalog_url,
            "listen": {"host": "127.0.0.1", "port": catalog_port},
            "auth": {
                "externalAccess": [
                    {"type": "static", "options": {"token": CATALOG_TOKEN, "subject": "tests"}}
                ]
            },
        },
        "discovery": _discovery("auth", auth_url),
        "catalog": {
            "processingInterval": {"seconds": 1},
            "locations": [
                {
                    "type": "file",
                    "target": str(tmp_path / "users.yaml"),
                    "rules": [{"allow": ["User", "Group"]}],
                }
            ],
        },
    }
    auth_config = {
        "app": {"baseUrl": APP_URL},
        "backend": {
            "baseUrl": auth_url,
            "listen": {"host": "127.0.0.1", "port": auth_port},
            "logging": {"level": log_level, "format": "json"},
        },
        "discovery": _discovery("catalog", catalog_url),
        "auth": {"session": {"secret": SESSION_SECRET}, "providers": dict(providers)},
    }
    real_auth = [auth_service_factory, http_auth_service_factory]
    async with start_test_backend(
        features=[*real_auth, catalog_plugin()], config=catalog_config
    ) as catalog:
        await _wait_for_users(catalog)
        async with start_test_backend(
            features=[
                *real_auth,
                auth_plugin(),
                auth_module_oidc_provider(),
                auth_module_github_provider(),
            ],
            config=auth_config,
        ) as auth:
            yield Units(auth=auth, catalog=catalog)


async def read_as(units: Units, token: str, path: str) -> httpx.Response:
    """A catalog request with a user's token, on the catalog unit."""
    return await units.catalog.client.get(
        f"/api/catalog{path}", headers={"Authorization": f"Bearer {token}"}
    )
