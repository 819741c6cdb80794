"""The module's startup: one provider per block, a host without an integration refused."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_backend_defaults import BackendStartupError
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend_module_gitlab import (
    GitlabDiscoveryEntityProvider,
    catalog_module_gitlab_discovery_entity_provider,
)
from backstage_plugin_catalog_node import catalog_processing_extension_point


class Processing:
    def __init__(self) -> None:
        self.providers: list[Any] = []

    def add_processor(self, *processors: Any) -> None:
        raise AssertionError("not expected")

    def add_entity_provider(self, *providers: Any) -> None:
        self.providers.extend(providers)


def block(host: str) -> dict[str, Any]:
    schedule = {"frequency": {"hours": 1}, "timeout": {"minutes": 5}}
    return {"host": host, "group": "platform", "schedule": schedule}


async def test_one_provider_per_block() -> None:
    processing = Processing()
    config = {
        # never contacted (no catalog connects the providers here); nothing listens there
        "integrations": {"gitlab": [{"host": "127.0.0.1:9", "token": "t",
                                     "apiBaseUrl": "http://127.0.0.1:9/api/v4",
                                     "baseUrl": "http://127.0.0.1:9"}]},
        "catalog": {"providers": {"gitlab": {"a": block("127.0.0.1:9"),
                                             "b": block("127.0.0.1:9")}}},
    }  # fmt: skip
    async with start_test_backend(
        features=[catalog_module_gitlab_discovery_entity_provider()],
        config=config,
        extension_points=[(catalog_processing_extension_point, processing)],
    ):
        pass
    assert [p.name for p in processing.providers] == [
        "GitlabDiscoveryEntityProvider:a",
        "GitlabDiscoveryEntityProvider:b",
    ]
    assert all(isinstance(p, GitlabDiscoveryEntityProvider) for p in processing.providers)


async def test_no_block_registers_nothing() -> None:
    processing = Processing()
    async with start_test_backend(
        features=[catalog_module_gitlab_discovery_entity_provider()],
        extension_points=[(catalog_processing_extension_point, processing)],
    ):
        pass
    assert processing.providers == []


async def test_a_host_without_an_integration_stops_the_start() -> None:
    config = {"catalog": {"providers": {"gitlab": {"a": block("gitlab.unknown")}}}}
    with pytest.raises(
        BackendStartupError, match=r"no integrations\.gitlab entry for gitlab\.unknown"
    ):
        async with start_test_backend(
            features=[catalog_module_gitlab_discovery_entity_provider()],
            config=config,
            extension_points=[(catalog_processing_extension_point, Processing())],
        ):
            pass
