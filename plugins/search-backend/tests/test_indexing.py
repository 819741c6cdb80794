"""Indexing tasks: one per type, local or global as the engine needs, failures keep the
previous index."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    SchedulerServiceTaskScheduleDefinition,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_search_backend import index_task_id, search_plugin
from backstage_plugin_search_node import IndexableDocument, SearchIndexRegistry

from .list_collator import MANUAL, ListCollator, doc, list_collator_module, started_search


def titles(body: dict[str, Any]) -> list[str]:
    return [result["document"]["title"] for result in body["results"]]


def test_task_ids_are_backstages() -> None:
    assert index_task_id("software-catalog") == "search_index_software_catalog"
    assert index_task_id("my-Big-type") == "search_index_my_big-type"


async def test_a_failing_collator_keeps_the_old_index_and_says_why() -> None:
    collator = ListCollator("software-catalog", [doc("alpha"), doc("beta")])
    async with started_search(collator) as search:
        await search.reindex("software-catalog")
        collator.documents = [doc("gamma"), doc("delta")]
        collator.failure = ConnectionError("the source went away")
        await search.reindex("software-catalog")
        still = (await search.query("term=")).json()
        error = search.scheduler.last_error(index_task_id("software-catalog"))
        collator.failure = None
        await search.reindex("software-catalog")
        recovered = (await search.query("term=")).json()
    assert titles(still) == ["alpha", "beta"]
    assert isinstance(error, ConnectionError)
    [line] = [entry for entry in search.logs.entries if "Indexing of type" in entry.message]
    assert line.level == "error"
    assert line.message == (
        "Indexing of type 'software-catalog' failed, the previous index is kept: "
        "the source went away"
    )
    assert titles(recovered) == ["gamma", "delta"]


async def test_documents_without_the_required_fields_are_skipped_with_a_warning() -> None:
    collator = ListCollator(
        "software-catalog", [doc("alpha"), {"title": "no location", "text": ""}, doc("beta")]
    )
    async with started_search(collator) as search:
        await search.reindex("software-catalog")
        body = (await search.query("term=")).json()
    assert titles(body) == ["alpha", "beta"]
    assert any("Skipped 1 documents" in entry.message for entry in search.logs.entries)


async def test_with_the_in_memory_engine_every_replica_indexes() -> None:
    schedule = SchedulerServiceTaskScheduleDefinition(
        frequency=timedelta(minutes=5), timeout=timedelta(minutes=1), scope="global"
    )
    collator = ListCollator("software-catalog", [doc("alpha")])
    async with started_search(collator, schedule=schedule) as search:
        [task] = await search.scheduler.get_scheduled_tasks()
        # no initial delay: the test scheduler ran it at startup
        body = (await search.query("term=alpha")).json()
    assert task.id == "search_index_software_catalog"
    assert task.scope == "local"
    assert task.settings["cadence"] == "PT5M"
    assert titles(body) == ["alpha"]


async def test_with_postgres_one_replica_indexes_for_all(
    postgres_database: dict[str, Any],
) -> None:
    config = {"backend": {"database": postgres_database}, "search": {"engine": "postgres"}}
    collator = ListCollator("software-catalog", [doc("petstore", "The petstore API")])
    async with started_search(collator, config=config) as search:
        [task] = await search.scheduler.get_scheduled_tasks()
        await search.reindex("software-catalog")
        body = (await search.query("term=pets")).json()
    assert task.scope == "global"
    assert titles(body) == ["petstore"]
    highlight = body["results"][0]["highlight"]
    assert highlight["fields"]["title"] == f"{highlight['preTag']}petstore{highlight['postTag']}"


async def test_postgres_configured_on_sqlite_falls_back_to_memory_with_a_warning() -> None:
    collator = ListCollator("software-catalog", [doc("alpha")])
    async with started_search(collator, config={"search": {"engine": "postgres"}}) as search:
        [task] = await search.scheduler.get_scheduled_tasks()
    assert task.scope == "local"
    assert any("falling back to the in-memory engine" in e.message for e in search.logs.entries)


class _Uppercase:
    types: Sequence[str] | None = ("software-catalog",)

    async def decorate(
        self, documents: AsyncIterator[IndexableDocument]
    ) -> AsyncIterator[IndexableDocument]:
        async for document in documents:
            if document["title"] != "dropped":
                yield {**document, "text": document["text"].upper()}


def _decorator_module() -> BackendModule:
    def register(env: ModuleRegistrationPoints) -> None:
        async def init(registry: SearchIndexRegistry) -> None:
            registry.add_decorator(_Uppercase())

        env.register_init(init)

    return create_backend_module(plugin_id="search", module_id="shout", register=register)


async def test_decorators_amend_and_drop_documents_of_their_types() -> None:
    collator = ListCollator("software-catalog", [doc("kept", "quiet"), doc("dropped", "x")])
    features = [search_plugin(), list_collator_module(collator), _decorator_module()]
    async with start_test_backend(features=features) as test:
        scheduler = await test.get_service(core.scheduler, "search")
        await scheduler.trigger_task("search_index_software_catalog")
        body = (await test.client.get("/api/search/query?term=")).json()
    assert [result["document"]["text"] for result in body["results"]] == ["QUIET"]


async def test_an_aborted_run_keeps_the_old_index() -> None:
    import asyncio

    import pytest
    from backstage_backend_test_utils import CapturingLogger, MockScheduler
    from backstage_plugin_search_backend import MemorySearchEngine
    from backstage_plugin_search_backend._indexing import (
        IndexingAbortedError,
        IndexRegistry,
        SearchIndexService,
    )
    from backstage_plugin_search_node import SearchQuery

    logs = CapturingLogger()
    engine = MemorySearchEngine(logs)
    collator = ListCollator("software-catalog", [doc("alpha")])
    registry = IndexRegistry()
    registry.add_collator(factory=collator, schedule=MANUAL)
    service = SearchIndexService(
        engine=engine, registry=registry, scheduler=MockScheduler(), logger=logs
    )
    await service.run("software-catalog", asyncio.Event())
    collator.documents = [doc("beta"), doc("gamma")]
    aborted = asyncio.Event()
    aborted.set()
    with pytest.raises(IndexingAbortedError):
        await service.run("software-catalog", aborted)
    result = await engine.query(SearchQuery(types=("software-catalog",)))
    assert [item.document["title"] for item in result.results] == ["alpha"]
