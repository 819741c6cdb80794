"""The modules' startup: providers per block, a host without an integration refused."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_backend_defaults import BackendStartupError
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend_module_github import (
    catalog_module_github_entity_provider,
    catalog_module_github_org_entity_provider,
)
from backstage_plugin_catalog_node import catalog_processing_extension_point


class Processing:
    def __init__(self) -> None:
        self.providers: list[Any] = []

    def add_processor(self, *processors: Any) -> None:
        raise AssertionError("not expected")

    def add_entity_provider(self, *providers: Any) -> None:
        self.providers.extend(providers)


SCHEDULE = {"frequency": {"hours": 1}, "timeout": {"minutes": 5}}
# never contacted (no catalog connects the providers here); nothing listens there anyway
GHE = {"host": "127.0.0.1:9", "apiBaseUrl": "http://127.0.0.1:9/api/v3", "token": "t"}


async def test_providers_per_block_and_the_org_cleaner() -> None:
    processing = Processing()
    config = {
        "integrations": {"github": [GHE]},
        "catalog": {"providers": {
            "github": {"a": {"organization": "acme", "host": "127.0.0.1:9"},
                       "b": {"organization": "beta", "host": "127.0.0.1:9"}},
            "githubOrg": [{"id": "x", "githubUrl": "http://127.0.0.1:9", "orgs": ["acme"],
                           "schedule": SCHEDULE}],
        }},
    }  # fmt: skip
    features = [
        catalog_module_github_entity_provider(),
        catalog_module_github_org_entity_provider(),
    ]
    async with start_test_backend(
        features=features,
        config=config,
        extension_points=[(catalog_processing_extension_point, processing)],
    ):
        pass
    assert sorted(p.name for p in processing.providers) == [
        "GithubMultiOrgEntityProvider:x",
        "GithubOrgEntityProvider:x",
        "github-provider:a",
        "github-provider:b",
    ]


@pytest.mark.parametrize(
    "providers",
    [{"github": {"a": {"organization": "acme", "host": "ghe.unknown"}}},
     {"githubOrg": {"id": "x", "githubUrl": "https://ghe.unknown", "schedule": SCHEDULE}}],
)  # fmt: skip
async def test_a_host_without_an_integration_stops_the_start(providers: dict[str, Any]) -> None:
    features = [
        catalog_module_github_entity_provider(),
        catalog_module_github_org_entity_provider(),
    ]
    with pytest.raises(
        BackendStartupError, match=r"no integrations\.github entry for ghe\.unknown"
    ):
        async with start_test_backend(
            features=features,
            config={"catalog": {"providers": providers}},
            extension_points=[(catalog_processing_extension_point, Processing())],
        ):
            pass
