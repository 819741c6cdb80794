"""Two replicas of the search plugin on the real scheduler: with Postgres one of them
indexes for both; in memory each indexes for itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from backstage_backend_defaults.scheduler import scheduler_service_factory
from backstage_backend_plugin_api import SchedulerServiceTaskScheduleDefinition
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_plugin_search_backend import search_plugin
from backstage_plugin_search_node import IndexableDocument

from .list_collator import doc, list_collator_module

EVERY_HOUR = SchedulerServiceTaskScheduleDefinition(
    frequency=timedelta(hours=1), timeout=timedelta(minutes=1), scope="global"
)


@dataclass
class CountingCollator:
    type: str = "software-catalog"
    runs: int = 0
    documents: list[IndexableDocument] = field(default_factory=lambda: [doc("petstore")])

    async def collate(self) -> AsyncIterator[IndexableDocument]:
        self.runs += 1
        for document in self.documents:
            yield document


async def _found(replica: TestBackend) -> bool:
    response = await replica.client.get("/api/search/query?term=petstore")
    return bool(response.json()["results"])


async def _until_indexed(replicas: list[TestBackend]) -> None:
    for _ in range(300):  # a bound on waiting, not a timing assertion
        if all([await _found(replica) for replica in replicas]):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the replicas never answered from an index")


async def _replicas(
    stack: AsyncExitStack, collator: CountingCollator, config: dict[str, Any]
) -> list[TestBackend]:
    config = {**config, "backend": {**config.get("backend", {}), "scheduler": {"pollInterval": 50}}}
    return [
        await stack.enter_async_context(
            start_test_backend(
                features=[
                    search_plugin(),
                    list_collator_module(collator, schedule=EVERY_HOUR),
                    scheduler_service_factory,
                ],
                config=config,
            )
        )
        for _ in range(2)
    ]


async def test_with_postgres_one_replica_indexes_and_both_answer(
    postgres_database: dict[str, Any],
) -> None:
    collator = CountingCollator()
    config = {"backend": {"database": postgres_database}, "search": {"engine": "postgres"}}
    async with AsyncExitStack() as stack:
        replicas = await _replicas(stack, collator, config)
        await _until_indexed(replicas)
    assert collator.runs == 1


async def test_in_memory_every_replica_indexes_for_itself() -> None:
    collator = CountingCollator()
    async with AsyncExitStack() as stack:
        replicas = await _replicas(stack, collator, {})
        await _until_indexed(replicas)
    assert collator.runs == 2
