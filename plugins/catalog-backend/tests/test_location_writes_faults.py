"""Location writes under database faults: the `locations` row and what the location
provider emitted never disagree, whatever moment the database goes away."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from backstage_backend_test_utils import TcpFaultProxy, start_test_backend, tcp_fault_proxy
from backstage_plugin_catalog_backend import catalog_plugin

from ._support import FileServer, serve_files

_WORKERS = 4
_CHAOS_SECONDS = 15.0
_KEEP = 0.1
"""The share of cycles that leave their location registered."""
_MOVE = 0.3
"""The share of cycles that move their location to another target before the end."""
_SETTLE_SECONDS = 90.0
"""How long the catalog may take to agree with its locations once the database is back:
generous, the test proves convergence without a restart, not its speed."""
_REQUEST_TIMEOUT = httpx.Timeout(120.0)

COMPONENT = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {{name: {name}}}
spec: {{type: service, lifecycle: production, owner: team-a}}
"""


@dataclass
class Outcomes:
    """What the answers say about each target: registered (True) or not (False); a target
    an answer left unsure is not listed (a 503 may come after a commit, as when the
    connection drops in the middle of COMMIT)."""

    known: dict[str, bool] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)


@asynccontextmanager
async def catalog_behind_proxy(
    proxy: TcpFaultProxy, database: dict[str, Any], server: FileServer
) -> AsyncIterator[Any]:
    port = server.base_url.rsplit(":", 1)[1]
    config = {
        "backend": {
            "database": {
                **database,
                "connection": {**database["connection"], "host": "127.0.0.1", "port": proxy.port},
            },
            "reading": {"allow": [{"host": f"127.0.0.1:{port}"}]},
        },
        "catalog": {"processingInterval": "2s"},
    }
    async with start_test_backend(features=[catalog_plugin()], config=config) as test:
        yield test


async def _cycle(
    client: httpx.AsyncClient, server: FileServer, name: str, rng: random.Random, out: Outcomes
) -> None:
    """Register a location; maybe move it to another target; unregister it, mostly."""
    target = server.put(f"/repo/{name}.yaml", COMPONENT.format(name=name))
    created = await client.post(
        "/api/catalog/locations", json={"type": "url", "target": target}, timeout=_REQUEST_TIMEOUT
    )
    _record(out, created)
    if created.status_code != 201:
        return
    out.known[target] = True
    location_id = created.json()["location"]["id"]
    if rng.random() < _MOVE:
        moved = server.put(f"/repo/{name}-moved.yaml", COMPONENT.format(name=f"{name}-moved"))
        updated = await client.put(
            f"/api/catalog/locations/{location_id}",
            json={"type": "url", "target": moved},
            timeout=_REQUEST_TIMEOUT,
        )
        _record(out, updated)
        if updated.status_code != 200:
            del out.known[target]
            return
        out.known[target], out.known[moved], target = False, True, moved
    if rng.random() < _KEEP:
        return
    deleted = await client.delete(f"/api/catalog/locations/{location_id}", timeout=_REQUEST_TIMEOUT)
    _record(out, deleted)
    if deleted.status_code == 204:
        out.known[target] = False
    else:
        del out.known[target]


def _record(outcomes: Outcomes, response: httpx.Response) -> None:
    outcomes.statuses.append(response.status_code)
    if response.status_code >= 500:
        outcomes.bodies.append(response.json())


async def _worker(
    client: httpx.AsyncClient,
    server: FileServer,
    index: int,
    rng: random.Random,
    out: Outcomes,
    done: asyncio.Event,
) -> None:
    cycle = 0
    while not done.is_set():
        await _cycle(client, server, f"w{index}-c{cycle}", rng, out)
        await asyncio.sleep(rng.uniform(0.02, 0.2))
        cycle += 1


async def _chaos(proxy: TcpFaultProxy, rng: random.Random, done: asyncio.Event) -> list[str]:
    """Cut the database at random moments for a while, then let the writers finish."""
    cuts: list[str] = []
    end = asyncio.get_running_loop().time() + _CHAOS_SECONDS
    try:
        while asyncio.get_running_loop().time() < end:
            await asyncio.sleep(rng.uniform(0.05, 0.8))
            mode = rng.choice(["refuse", "blackhole"])
            cuts.append(mode)
            await (proxy.refuse() if mode == "refuse" else proxy.blackhole())
            await asyncio.sleep(rng.uniform(0.1, 1.0))
            await proxy.restore()
    finally:
        await proxy.restore()
        done.set()
    return cuts


async def _catalog_state(database: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """Straight from Postgres (not through the proxy): the registered locations' entity
    refs, the refs the location provider emitted, and which of those have a refresh state."""
    connection = await asyncpg.connect(
        database=f"{database['prefix']}catalog", **database["connection"]
    )
    try:
        registered = {
            row[0] for row in await connection.fetch("SELECT location_entity_ref FROM locations")
        }
        emitted = {
            row[0]
            for row in await connection.fetch(
                "SELECT target_entity_ref FROM refresh_state_references "
                "WHERE source_key = 'DefaultLocationStore'"
            )
        }
        stored = {
            row[0]
            for row in await connection.fetch(
                "SELECT entity_ref FROM refresh_state WHERE entity_ref = ANY($1::text[])",
                sorted(emitted),
            )
        }
        return registered, emitted, stored
    finally:
        await connection.close()


async def _served(client: httpx.AsyncClient, kind: str) -> set[str]:
    response = await client.get(
        "/api/catalog/entities", params={"filter": f"kind={kind}"}, timeout=_REQUEST_TIMEOUT
    )
    assert response.status_code == 200, response.text
    return {entity["metadata"]["name"] for entity in response.json()}


async def _targets(client: httpx.AsyncClient) -> dict[str, str]:
    """Registered targets by the name of their Location entity."""
    response = await client.get("/api/catalog/locations", timeout=_REQUEST_TIMEOUT)
    assert response.status_code == 200, response.text
    return {
        item["data"]["entityRef"].split("/", 1)[1]: item["data"]["target"]
        for item in response.json()
    }


async def test_location_writes_and_provider_rows_agree_through_database_cuts(
    postgres_config: dict[str, Any],
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    outcomes = Outcomes()
    real = postgres_config["connection"]
    with serve_files() as server:
        async with (
            tcp_fault_proxy(real["host"], real["port"]) as proxy,
            catalog_behind_proxy(proxy, postgres_config, server) as test,
        ):
            done = asyncio.Event()
            workers = [
                _worker(test.client, server, index, random.Random(rng.random()), outcomes, done)
                for index in range(_WORKERS)
            ]
            cuts, *_ = await asyncio.gather(
                _chaos(proxy, random.Random(rng.random()), done), *workers
            )
            context = f"seed={seed}, cuts={cuts}, statuses={sorted(set(outcomes.statuses))}"

            # The answers during the cuts: a success, or a 503 with a generic message.
            assert cuts, context
            assert set(outcomes.statuses) <= {200, 201, 204, 503}, (context, outcomes.bodies)
            assert outcomes.statuses.count(503) > 0, context
            for body in outcomes.bodies:
                assert body["error"]["name"] == "ServiceUnavailableError", (context, body)
                assert body["response"]["statusCode"] == 503, (context, body)
                message = body["error"]["message"].lower()
                internals = (str(proxy.port), "127.0.0.1", "sql", "asyncpg", "connect call")
                assert not any(word in message for word in internals), (context, body)

            # Straight after the cuts, without a restart: every registered location is
            # emitted by the provider, and nothing else is.
            registered, emitted, stored = await _catalog_state(postgres_config)
            assert registered == emitted, (
                context,
                sorted(registered - emitted),
                sorted(emitted - registered),
            )
            assert stored == emitted, context
            assert {200, 201, 204} <= set(outcomes.statuses), context

            # What the answers made certain holds.
            targets = await _targets(test.client)
            listed = set(targets.values())
            for target, present in outcomes.known.items():
                assert (target in listed) == present, (context, target, present)

            # And the served entities come to agree with the locations, with no restart.
            wanted_locations = set(targets)
            wanted_components = {
                target.rsplit("/", 1)[1].removesuffix(".yaml") for target in listed
            }
            deadline = asyncio.get_running_loop().time() + _SETTLE_SECONDS
            while True:
                locations = await _served(test.client, "location")
                components = await _served(test.client, "component")
                if (locations, components) == (wanted_locations, wanted_components):
                    break
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(
                        (
                            context,
                            sorted(locations ^ wanted_locations),
                            sorted(components ^ wanted_components),
                        )
                    )
                await asyncio.sleep(0.5)
