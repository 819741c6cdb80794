"""The OAuth flows' server-side state: taken once, never after ten minutes; on SQLite and
on Postgres, where two replicas racing for one flow get it once between them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from backstage_backend_plugin_api import DatabaseService
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import InMemoryDatabaseService, postgres_database_config
from backstage_plugin_auth_backend import MIGRATIONS
from backstage_plugin_auth_backend._stores import FlowStateStore

from ._backends import auth_backend


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def database() -> AsyncIterator[DatabaseService]:
    service = InMemoryDatabaseService("auth")
    await service.migrate(MIGRATIONS)
    yield service
    await service.dispose()


async def test_a_flow_is_taken_once(database: DatabaseService) -> None:
    flows = FlowStateStore(database)
    await flows.save("flow-1", {"transient": "{}"}, ttl_seconds=600)
    assert await flows.consume("flow-1") == {"transient": "{}"}
    assert await flows.consume("flow-1") is None
    assert await flows.consume("flow-2") is None


async def test_a_flow_expires_and_is_swept(database: DatabaseService) -> None:
    clock = Clock()
    flows = FlowStateStore(database, clock=clock)
    await flows.save("old", {"a": "1"}, ttl_seconds=600)
    await flows.save("kept", {"a": "2"}, ttl_seconds=600)
    clock.now += timedelta(seconds=601)
    assert await flows.consume("old") is None
    await flows.save("new", {"a": "3"}, ttl_seconds=600)  # sweeps "kept", expired too
    clock.now -= timedelta(seconds=601)
    assert await flows.consume("kept") is None


async def test_replicas_racing_for_one_flow_get_it_once() -> None:
    async with postgres_database_config("auth") as config:
        settings = {"backend": {"database": config}}
        async with auth_backend(settings) as one, auth_backend(settings) as two:
            stores = [
                FlowStateStore(await test.get_service(core.database, "auth")) for test in (one, two)
            ]
            for round in range(5):
                await stores[0].save(f"flow-{round}", {"n": str(round)}, ttl_seconds=600)
                taken = await asyncio.gather(
                    *(store.consume(f"flow-{round}") for store in stores * 3)
                )
                assert [result for result in taken if result is not None] == [{"n": str(round)}]
