"""A collator module over a list the test controls, and a backend running it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from backstage_backend_plugin_api import (
    BackendFeature,
    BackendModule,
    ModuleRegistrationPoints,
    SchedulerServiceTaskScheduleDefinition,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import (
    CapturingLogger,
    MockScheduler,
    TestBackend,
    mock_services,
    start_test_backend,
)
from backstage_plugin_search_backend import index_task_id, search_plugin
from backstage_plugin_search_node import (
    DocumentCollatorFactory,
    IndexableDocument,
    SearchIndexRegistry,
)

MANUAL = SchedulerServiceTaskScheduleDefinition(
    frequency=timedelta(minutes=10), timeout=timedelta(minutes=1), initial_delay=timedelta(hours=1)
)


@dataclass
class ListCollator:
    """Yields `documents`; raises `failure` after the first document when set."""

    type: str
    documents: list[IndexableDocument] = field(default_factory=list)
    failure: Exception | None = None

    async def collate(self) -> AsyncIterator[IndexableDocument]:
        for number, document in enumerate(self.documents):
            if number == 1 and self.failure is not None:
                raise self.failure
            yield document


def list_collator_module(
    *collators: DocumentCollatorFactory, schedule: SchedulerServiceTaskScheduleDefinition = MANUAL
) -> BackendModule:
    def register(env: ModuleRegistrationPoints) -> None:
        async def init(registry: SearchIndexRegistry) -> None:
            for collator in collators:
                registry.add_collator(factory=collator, schedule=schedule)

        env.register_init(init)

    return create_backend_module(plugin_id="search", module_id="list-collator", register=register)


def doc(title: str, text: str = "", **extra: Any) -> IndexableDocument:
    return {"title": title, "text": text, "location": f"/docs/{title}", **extra}


@dataclass
class SearchBackend:
    test: TestBackend
    logs: CapturingLogger
    scheduler: MockScheduler

    async def reindex(self, type: str) -> None:
        await self.scheduler.trigger_task(index_task_id(type))

    async def query(self, query: str) -> Any:
        return await self.test.client.get(f"/api/search/query?{query}")


@asynccontextmanager
async def started_search(
    *collators: ListCollator,
    config: Mapping[str, Any] | None = None,
    schedule: SchedulerServiceTaskScheduleDefinition = MANUAL,
    features: Sequence[BackendFeature] = (),
) -> AsyncIterator[SearchBackend]:
    logs = CapturingLogger("info")
    all_features = [
        search_plugin(),
        list_collator_module(*collators, schedule=schedule),
        mock_services.root_logger_factory(logger=logs),
        mock_services.logger_factory(),
        *features,
    ]
    async with start_test_backend(features=all_features, config=config) as test:
        scheduler = await test.get_service(core.scheduler, "search")
        assert isinstance(scheduler, MockScheduler)
        yield SearchBackend(test, logs, scheduler)
