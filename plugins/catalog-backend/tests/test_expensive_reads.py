"""Expensive reads (listings, by-query pages, facet counts) take turns: a few at once, the
rest wait for a slot, and one that cannot start in time answers 503, never hangs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from backstage_backend_plugin_api import PluginRegistrationPoints, create_backend_plugin
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend
from backstage_common.config import Config
from backstage_common.errors import InputError
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend.api._expensive import ExpensiveReads
from litestar import get


def slow_plugin(expensive: ExpensiveReads, running: list[int]) -> Any:
    """A plugin whose `/slow` route is limited and records how many run at once."""

    @get("/slow")
    async def slow() -> dict[str, int]:
        running.append(running[-1] + 1 if running else 1)
        try:
            await asyncio.sleep(0.3)
        finally:
            running.append(running[-1] - 1)
        return {"ok": 1}

    async def init(router: core.HttpRouter) -> None:
        router.use(*expensive.limit([slow]))

    def register(env: PluginRegistrationPoints) -> None:
        env.register_init(init)

    return create_backend_plugin(plugin_id="slow", register=register)


async def test_expensive_reads_take_turns_and_wait_for_a_slot() -> None:
    running: list[int] = []
    plugin = slow_plugin(ExpensiveReads(concurrency=2, queue_timeout=10), running)
    async with start_test_backend(features=[plugin]) as backend:
        responses = await asyncio.gather(
            *(backend.client.get("/api/slow/slow", timeout=30) for _ in range(6))
        )
    assert [response.status_code for response in responses] == [200] * 6
    assert max(running) == 2


async def test_an_expensive_read_that_cannot_start_in_time_answers_503() -> None:
    running: list[int] = []
    plugin = slow_plugin(ExpensiveReads(concurrency=1, queue_timeout=0.1), running)
    async with start_test_backend(features=[plugin]) as backend:
        first = asyncio.create_task(backend.client.get("/api/slow/slow", timeout=30))
        await asyncio.sleep(0.1)
        response = await backend.client.get("/api/slow/slow", timeout=30)
        assert response.status_code == 503
        assert response.json()["error"] == {
            "name": "ServiceUnavailableError",
            "message": "The catalog is busy, try again later",
        }
        assert (await first).status_code == 200


def test_a_limit_below_one_is_refused() -> None:
    for concurrency in (0, 1.5, -3):
        config = Config.from_data({"catalog": {"expensiveReads": {"concurrency": concurrency}}})
        with pytest.raises(InputError, match=r"catalog\.expensiveReads\.concurrency"):
            ExpensiveReads.from_config(config)


async def test_the_catalog_serves_its_listings_through_the_limit() -> None:
    config = {"catalog": {"expensiveReads": {"concurrency": 1}}}
    async with start_test_backend(features=[catalog_plugin()], config=config) as backend:
        responses = await asyncio.gather(
            *(backend.client.get("/api/catalog/entities/by-query?limit=1") for _ in range(5)),
            *(backend.client.get("/api/catalog/entities") for _ in range(5)),
            *(backend.client.get("/api/catalog/entity-facets?facet=kind") for _ in range(5)),
        )
    assert {response.status_code for response in responses} == {200}
