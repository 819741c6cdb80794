"""Modules may replace the engine; engine failures are a 500 whose cause is only logged."""

from __future__ import annotations

import pytest
from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_backend_test_utils import CapturingLogger, mock_services, start_test_backend
from backstage_plugin_search_backend import search_plugin
from backstage_plugin_search_node import (
    SearchEngineIndexer,
    SearchEngineRegistry,
    SearchQuery,
    SearchResultSet,
)

from .list_collator import ListCollator, list_collator_module


class BrokenEngine:
    index_is_shared = True
    batch_size = 10

    async def get_indexer(self, type: str) -> SearchEngineIndexer:
        raise NotImplementedError

    async def query(self, query: SearchQuery) -> SearchResultSet:
        raise ConnectionResetError("the search cluster hung up")


def engine_module(*engines: object, module_id: str = "broken-engine") -> BackendModule:
    def register(env: ModuleRegistrationPoints) -> None:
        async def init(registry: SearchEngineRegistry) -> None:
            for engine in engines:
                registry.set_search_engine(engine)  # type: ignore[arg-type]

        env.register_init(init)

    return create_backend_module(plugin_id="search", module_id=module_id, register=register)


async def test_an_engine_failure_is_a_500_and_the_cause_is_logged() -> None:
    logs = CapturingLogger("info")
    features = [
        search_plugin(),
        engine_module(BrokenEngine()),
        list_collator_module(ListCollator("software-catalog")),
        mock_services.root_logger_factory(logger=logs),
        mock_services.logger_factory(),
    ]
    async with start_test_backend(features=features) as test:
        response = await test.client.get("/api/search/query?term=pet")
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "There was a problem performing the search query"
    assert "hung up" not in response.text
    assert any("the search cluster hung up" in entry.message for entry in logs.entries)


async def test_only_one_engine_may_be_set() -> None:
    features = [search_plugin(), engine_module(BrokenEngine(), BrokenEngine())]
    with pytest.raises(Exception, match="Multiple Search engines is not supported"):
        async with start_test_backend(features=features):
            pass
