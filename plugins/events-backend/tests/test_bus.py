"""The bus API (`/api/events/bus/v1`) on both stores: memory (SQLite) and PostgreSQL, where
a publish on one replica wakes the long polls of another through LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from backstage_backend_test_utils import (
    TestBackend,
    mock_credentials,
    postgres_database_config,
    start_test_backend,
)
from backstage_plugin_events_backend import events_plugin

SERVICE = mock_credentials.service_header("plugin:catalog")
BUS = "/api/events/bus/v1"


@asynccontextmanager
async def bus_backends(
    store: str, replicas: int = 1, notify_timeout_ms: int = 30_000
) -> AsyncIterator[list[TestBackend]]:
    async with AsyncExitStack() as stack:
        config: dict[str, Any] = {"events": {"notifyTimeoutMs": notify_timeout_ms}}
        if store == "postgres":
            database = await stack.enter_async_context(postgres_database_config("events"))
            config["backend"] = {"database": database}
        backends = [
            await stack.enter_async_context(
                start_test_backend(features=[events_plugin()], config=config)
            )
            for _ in range(replicas)
        ]
        yield backends


async def subscribe(client: httpx.AsyncClient, id: str, topics: list[str]) -> None:
    response = await client.put(
        f"{BUS}/subscriptions/{id}", json={"topics": topics}, headers=SERVICE
    )
    assert response.status_code == 201, response.text


async def publish(
    client: httpx.AsyncClient, topic: str, payload: Any, notified: list[str] | None = None
) -> int:
    body: dict[str, Any] = {"event": {"topic": topic, "payload": payload}}
    if notified is not None:
        body["notifiedSubscribers"] = notified
    response = await client.post(f"{BUS}/events", json=body, headers=SERVICE)
    assert response.status_code in (201, 204), response.text
    return response.status_code


async def read(client: httpx.AsyncClient, id: str) -> httpx.Response:
    return await client.get(f"{BUS}/subscriptions/{id}/events", headers=SERVICE)


STORES = ["memory", "postgres"]


@pytest.mark.parametrize("store", STORES)
async def test_publish_subscribe_read(store: str) -> None:
    async with bus_backends(store, notify_timeout_ms=300) as (backend,):
        client = backend.client
        # nobody subscribes yet: nothing is stored, and a later subscription sees nothing old
        assert await publish(client, "github.push", {"n": 0}) == 204
        await subscribe(client, "catalog.refresher", ["github.push", "gitlab.push"])
        assert await publish(client, "github.push", {"n": 1}) == 201
        assert await publish(client, "other", {"n": 2}) == 204
        assert await publish(client, "gitlab.push", {"n": 3}, ["catalog.refresher"]) == 204
        assert await publish(client, "gitlab.push", {"n": 4}, ["catalog.other"]) == 201
        response = await read(client, "catalog.refresher")
        assert response.status_code == 200
        assert response.json() == {
            "events": [
                {"topic": "github.push", "payload": {"n": 1}},
                {"topic": "gitlab.push", "payload": {"n": 4}},
            ]
        }
        # read: nothing left, a 202 long poll whose body ends at the notify timeout
        response = await read(client, "catalog.refresher")
        assert response.status_code == 202
        assert response.headers["backstage-events-notify-timeout"] == "300"
        assert response.content == b""


@pytest.mark.parametrize("store", STORES)
async def test_reads_come_in_tens_oldest_first(store: str) -> None:
    async with bus_backends(store) as (backend,):
        client = backend.client
        await subscribe(client, "search.indexer", ["t"])
        for n in range(25):
            await publish(client, "t", n)
        pages = []
        for _ in range(3):
            response = await read(client, "search.indexer")
            assert response.status_code == 200
            pages.append([event["payload"] for event in response.json()["events"]])
        assert pages == [list(range(10)), list(range(10, 20)), list(range(20, 25))]


@pytest.mark.parametrize("store", STORES)
async def test_consumers_sharing_a_subscription_each_get_an_event_once(store: str) -> None:
    async with bus_backends(store, notify_timeout_ms=200) as (backend,):
        client = backend.client
        await subscribe(client, "catalog.shared", ["t"])
        for n in range(40):
            await publish(client, "t", n)

        async def consume() -> list[int]:
            got: list[int] = []
            while True:
                response = await read(client, "catalog.shared")
                if response.status_code == 202:
                    return got
                got.extend(event["payload"] for event in response.json()["events"])

        first, second = await asyncio.gather(consume(), consume())
        assert sorted(first + second) == list(range(40))


@pytest.mark.parametrize("store", STORES)
async def test_long_poll_ends_when_a_matching_event_is_published(store: str) -> None:
    async with bus_backends(store, notify_timeout_ms=60_000) as (backend,):
        client = backend.client
        await subscribe(client, "catalog.waiter", ["wanted"])
        async with client.stream(
            "GET", f"{BUS}/subscriptions/catalog.waiter/events", headers=SERVICE
        ) as held:
            # the headers come at once; the body stays open until a publish
            assert held.status_code == 202
            body = asyncio.create_task(held.aread())
            await asyncio.sleep(0.3)
            await publish(client, "unwanted", 1)
            await asyncio.sleep(0.3)
            assert not body.done()
            await publish(client, "wanted", 2)
            await asyncio.wait_for(body, timeout=10)
        response = await read(client, "catalog.waiter")
        assert response.json() == {"events": [{"topic": "wanted", "payload": 2}]}


async def test_a_publish_on_one_replica_wakes_a_long_poll_on_another() -> None:
    async with bus_backends("postgres", replicas=2, notify_timeout_ms=60_000) as (one, two):
        await subscribe(one.client, "catalog.replicated", ["t"])
        async with one.client.stream(
            "GET", f"{BUS}/subscriptions/catalog.replicated/events", headers=SERVICE
        ) as held:
            assert held.status_code == 202
            body = asyncio.create_task(held.aread())
            await asyncio.sleep(0.3)
            assert await publish(two.client, "t", {"from": "two"}) == 201
            await asyncio.wait_for(body, timeout=10)
        response = await read(one.client, "catalog.replicated")
        assert response.json() == {"events": [{"topic": "t", "payload": {"from": "two"}}]}


@pytest.mark.parametrize("store", STORES)
async def test_only_services_use_the_bus(store: str) -> None:
    async with bus_backends(store) as (backend,):
        client = backend.client
        await subscribe(client, "catalog.x", ["t"])
        calls = [
            ("POST", f"{BUS}/events", {"event": {"topic": "t", "payload": 1}}),
            ("PUT", f"{BUS}/subscriptions/catalog.y", {"topics": ["t"]}),
            ("GET", f"{BUS}/subscriptions/catalog.x/events", None),
        ]
        for method, path, body in calls:
            user = await client.request(
                method, path, json=body, headers=mock_credentials.user_header()
            )
            assert user.status_code == 403, (method, path)
            nobody = await client.request(
                method, path, json=body, headers=mock_credentials.none_header()
            )
            assert nobody.status_code == 401, (method, path)
        # nothing was stored: the subscription made by a user does not exist
        assert (await read(client, "catalog.y")).status_code == 404


@pytest.mark.parametrize("store", STORES)
async def test_bad_requests(store: str) -> None:
    async with bus_backends(store) as (backend,):
        client = backend.client
        assert (await read(client, "catalog.unknown")).status_code == 404
        bad = [
            ("POST", f"{BUS}/events", b'{"event": {"payload": 1}}'),
            ("POST", f"{BUS}/events", b'{"event": {"topic": 7}}'),
            ("POST", f"{BUS}/events", b"not json"),
            ("PUT", f"{BUS}/subscriptions/catalog.z", b'{"topics": []}'),
            ("PUT", f"{BUS}/subscriptions/catalog.z", b'{"topics": "t"}'),
        ]
        for method, path, body in bad:
            response = await client.request(
                method, path, content=body, headers={**SERVICE, "content-type": "application/json"}
            )
            assert response.status_code == 400, (path, body, response.text)
            assert response.json()["error"]["name"] == "InputError"
        assert (await read(client, "catalog.z")).status_code == 404
