"""A signed GitHub push webhook at the events unit makes the catalog unit re-read the
changed file at once: the events plugin verifies and routes it (`github` ->
`github.push`), the bus in the events plugin's PostgreSQL database carries it to the
catalog unit, whose `location-refresh-on-push` module refreshes the location registered at
that file, read through core.urlReader from a loopback GitHub. Both units verify each
other's plugin tokens for real; the catalog's own processing interval is an hour, so only
the webhook can explain a re-read within seconds."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_test_utils import (
    TestBackend,
    deep_merge,
    postgres_database_config,
    start_test_backend,
)
from backstage_backend_test_utils.scm import (
    FakeRepository,
    LoopbackGithub,
    start_loopback_github_api,
)
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend_module_events import (
    catalog_module_location_refresh_on_push,
)
from backstage_plugin_events_backend import events_features

SECRET = "webhook-secret-across-units"
TOKEN = "ci-token-events"
SERVICE = {"authorization": f"Bearer {TOKEN}"}
FILE = "catalog-info.yaml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def component(description: str) -> bytes:
    return (
        "apiVersion: backstage.io/v1alpha1\n"
        "kind: Component\n"
        f"metadata:\n  name: shop\n  description: {description}\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    ).encode()


def unit_config(port: int, ports: dict[str, int], database: dict[str, Any]) -> dict[str, Any]:
    return {
        "backend": {
            "baseUrl": f"http://127.0.0.1:{port}",
            "listen": {"host": "127.0.0.1", "port": port},
            "database": database,
            "auth": {
                "externalAccess": [{"type": "static", "options": {"token": TOKEN, "subject": "ci"}}]
            },
        },
        "discovery": {
            "endpoints": [
                {"target": f"http://127.0.0.1:{other}/api/{plugin}", "plugins": [plugin]}
                for plugin, other in ports.items()
            ]
        },
    }


@dataclass
class Deployment:
    github: LoopbackGithub
    repository: FakeRepository
    events: TestBackend
    catalog: TestBackend
    replicas: list[TestBackend]


@asynccontextmanager
async def deployment(catalog_replicas: int = 1) -> AsyncIterator[Deployment]:
    async with AsyncExitStack() as stack:
        github = await stack.enter_async_context(start_loopback_github_api(LoopbackGithub()))
        repository = github.add_repository(
            FakeRepository("acme", "shop", {"main": {FILE: component("v1")}})
        )
        database = await stack.enter_async_context(postgres_database_config("webhooks"))
        ports = {"events": free_port(), "catalog": free_port()}
        events_config = deep_merge(
            unit_config(ports["events"], ports, database),
            {"events": {"modules": {"github": {"webhookSecret": SECRET}}}},
        )
        catalog_config = deep_merge(
            unit_config(ports["catalog"], ports, database),
            {
                "integrations": {"github": [github.integration_config()]},
                "catalog": {
                    "processingInterval": {"hours": 1},
                    "locations": [{"type": "url", "target": github.blob_url("acme", "shop", FILE)}],
                },
            },
        )
        auth = [auth_service_factory, http_auth_service_factory]
        events = await stack.enter_async_context(
            start_test_backend(features=[*auth, *events_features()], config=events_config)
        )
        replicas: list[TestBackend] = []
        for replica in range(catalog_replicas):
            # further replicas share the first one's database, as a scaled Deployment does
            port = ports["catalog"] if replica == 0 else free_port()
            config = deep_merge(
                catalog_config,
                {
                    "backend": {
                        "baseUrl": f"http://127.0.0.1:{port}",
                        "listen": {"host": "127.0.0.1", "port": port},
                    }
                },
            )
            replicas.append(
                await stack.enter_async_context(
                    start_test_backend(
                        features=[
                            *auth,
                            catalog_plugin(),
                            catalog_module_location_refresh_on_push(),
                        ],
                        config=config,
                    )
                )
            )
        yield Deployment(github, repository, events, replicas[0], replicas)


async def description(catalog: TestBackend) -> str | None:
    response = await catalog.client.get(
        "/api/catalog/entities/by-name/component/default/shop", headers=SERVICE
    )
    if response.status_code != 200:
        return None
    value: str | None = response.json()["metadata"].get("description")
    return value


async def wait_for_description(catalog: TestBackend, wanted: str, seconds: float) -> bool:
    for _ in range(int(seconds * 10)):
        if await description(catalog) == wanted:
            return True
        await asyncio.sleep(0.1)
    return False


def push_payload(github: LoopbackGithub, modified: list[str]) -> bytes:
    return json.dumps(
        {
            "ref": "refs/heads/main",
            "repository": {
                "full_name": "acme/shop",
                "html_url": f"{github.base_url}/acme/shop",
                "default_branch": "main",
            },
            "commits": [{"id": "c0ffee", "added": [], "removed": [], "modified": modified}],
        }
    ).encode()


async def send_push(events: TestBackend, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"content-type": "application/json", "x-github-event": "push"}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return await events.client.post("/api/events/http/github", content=body, headers=headers)


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_signed_push_refreshes_the_location_on_the_other_unit_at_once() -> None:
    async with deployment() as setup:
        assert await wait_for_description(setup.catalog, "v1", 30), "v1 was never ingested"
        setup.repository.branches["main"][FILE] = component("v2")
        body = push_payload(setup.github, [FILE])

        # a forged, a wrongly signed and an altered webhook change nothing
        for signature in (None, sign(body, "guess"), sign(body.replace(b"main", b"dev"))):
            refused = await send_push(setup.events, body, signature)
            assert refused.status_code == 403
            assert refused.json() == {"message": "invalid signature"}
        assert not await wait_for_description(setup.catalog, "v2", 3)

        # a push that touches other files only refreshes nothing either
        other = push_payload(setup.github, ["README.md"])
        assert (await send_push(setup.events, other, sign(other))).status_code == 202
        assert not await wait_for_description(setup.catalog, "v2", 2)

        accepted = await send_push(setup.events, body, sign(body))
        assert accepted.status_code == 202
        assert accepted.json() == {"status": "accepted"}
        assert await wait_for_description(setup.catalog, "v2", 15), "the push was not acted on"

        # a replayed delivery is accepted again, and only refreshes again (idempotent)
        setup.repository.branches["main"][FILE] = component("v3")
        replay = await send_push(setup.events, body, sign(body))
        assert replay.status_code == 202
        assert await wait_for_description(setup.catalog, "v3", 15)


async def test_with_two_catalog_replicas_one_of_them_refreshes_and_both_see_it() -> None:
    """Both replicas subscribe as `catalog.LocationRefreshOnPush`: the bus hands each event
    to one of them, and the refresh lands in the database they share."""
    async with deployment(catalog_replicas=2) as setup:
        for replica in setup.replicas:
            assert await wait_for_description(replica, "v1", 30)
        for version in ("v2", "v3", "v4"):
            setup.repository.branches["main"][FILE] = component(version)
            body = push_payload(setup.github, [FILE])
            assert (await send_push(setup.events, body, sign(body))).status_code == 202
            for replica in setup.replicas:
                assert await wait_for_description(replica, version, 15), version
