"""GitLab discovery against the loopback GitLab."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from backstage_backend_test_utils import MockScheduler
from backstage_backend_test_utils.scm import (
    FakeRepository,
    LoopbackGitlab,
    gitlab_discovery_handler,
    start_loopback_gitlab,
)
from backstage_common.config import Config
from backstage_common.errors import InputError, NotAllowedError
from backstage_integration import ScmIntegrations
from backstage_plugin_catalog_backend_module_gitlab import (
    GitlabApi,
    GitlabDiscoveryEntityProvider,
    read_gitlab_discovery_configs,
)
from backstage_plugin_catalog_node import DeltaMutation, EntityProviderMutation, FullMutation
from backstage_plugin_events_node import EventParams

CATALOG = {"main": {"catalog-info.yaml": b"kind: Component"}}


class Recorder:
    def __init__(self) -> None:
        self.mutations: list[EntityProviderMutation] = []
        self.refreshed: list[str] = []

    async def apply_mutation(self, mutation: EntityProviderMutation) -> None:
        self.mutations.append(mutation)

    async def refresh(self, keys: Sequence[str]) -> None:
        self.refreshed.extend(keys)


def targets(mutation: EntityProviderMutation) -> list[str]:
    assert isinstance(mutation, FullMutation)
    return sorted(d.entity["spec"]["target"] for d in mutation.entities)


@pytest.fixture
async def gitlab() -> AsyncIterator[LoopbackGitlab]:
    async with start_loopback_gitlab() as server:
        server.tokens["glpat"] = {"platform"}
        for project in [
            FakeRepository("platform", "web", CATALOG),
            FakeRepository("platform/backend", "api", CATALOG, private=True),
            FakeRepository("platform/backend", "no-catalog", {"main": {"README.md": b"x"}}),
            FakeRepository("platform", "old", CATALOG, archived=True),
            FakeRepository("platform", "dev-only", {"main": {}, "dev": CATALOG["main"]},
                           default_branch="dev"),
            FakeRepository("marketing", "site", CATALOG),
        ]:  # fmt: skip
            server.add_project(project)
        yield server


async def provider_for(
    gitlab: LoopbackGitlab, **block: Any
) -> tuple[GitlabDiscoveryEntityProvider, Recorder, MockScheduler, list[str], httpx.AsyncClient]:
    probes: list[str] = []
    gitlab.handlers.append(gitlab_discovery_handler(gitlab, probes))
    config = Config.from_data({
        "integrations": {"gitlab": [gitlab.integration_config(token="glpat")]},
        "catalog": {"providers": {"gitlab": {"main": {
            "host": gitlab.host,
            "schedule": {"frequency": {"minutes": 10}, "timeout": {"minutes": 5}},
            **block,
        }}}},
    })  # fmt: skip
    [parsed] = read_gitlab_discovery_configs(config)
    integration = ScmIntegrations.from_config(config).gitlab.by_host(gitlab.host)
    assert integration is not None
    client = httpx.AsyncClient()
    schedules = MockScheduler()
    provider = GitlabDiscoveryEntityProvider(
        parsed,
        GitlabApi(integration, client),
        schedules,
        logging.getLogger("gitlab"),  # type: ignore[arg-type]
    )
    recorder = Recorder()
    await provider.connect(recorder)
    return provider, recorder, schedules, probes, client


async def test_projects_of_a_group_with_the_catalog_file(gitlab: LoopbackGitlab) -> None:
    _, recorder, schedules, probes, client = await provider_for(gitlab, group="platform")
    async with client:
        await schedules.trigger_task("GitlabDiscoveryEntityProvider:main:refresh")
    web = gitlab.web_base_url
    assert targets(recorder.mutations[-1]) == [
        f"{web}/platform/backend/api/-/blob/main/catalog-info.yaml",
        f"{web}/platform/dev-only/-/blob/dev/catalog-info.yaml",
        f"{web}/platform/web/-/blob/main/catalog-info.yaml",
    ]
    assert set(probes) == {"catalog-info.yaml"}
    assert len(probes) == 4  # the archived project is never probed
    mutation = recorder.mutations[-1]
    assert isinstance(mutation, FullMutation)
    assert {d.location_key for d in mutation.entities} == {"GitlabDiscoveryEntityProvider:main"}


async def test_patterns_exclusions_and_a_project_gone_from_gitlab(gitlab: LoopbackGitlab) -> None:
    provider, recorder, _, _, client = await provider_for(
        gitlab,
        groupPattern=["^platform/backend$", "^marketing$"],
        projectPattern="a",
        excludeRepos=["marketing/nothing"],
        includeArchivedRepos=True,
    )
    async with client:
        await provider.read()
        web = gitlab.web_base_url
        assert targets(recorder.mutations[-1]) == [
            f"{web}/marketing/site/-/blob/main/catalog-info.yaml",
            f"{web}/platform/backend/api/-/blob/main/catalog-info.yaml",
        ]
        del gitlab.projects["marketing/site"]
        await provider.read()
    assert targets(recorder.mutations[-1]) == [
        f"{web}/platform/backend/api/-/blob/main/catalog-info.yaml"
    ]


async def test_an_unknown_token_applies_nothing(gitlab: LoopbackGitlab) -> None:
    provider, recorder, schedules, _, client = await provider_for(gitlab)
    gitlab.tokens.clear()
    async with client:
        with pytest.raises(NotAllowedError):
            await provider.read()
        await schedules.trigger_task("GitlabDiscoveryEntityProvider:main:refresh")
    assert schedules.last_error("GitlabDiscoveryEntityProvider:main:refresh") is None
    assert recorder.mutations == []


async def test_push_events(gitlab: LoopbackGitlab) -> None:
    provider, recorder, _, _, client = await provider_for(gitlab, group="platform")
    web_id = gitlab.projects["platform/web"].id

    def push(ref: str, **change: list[str]) -> EventParams:
        commit = {"added": [], "removed": [], "modified": [], **change}
        return EventParams("gitlab.push", {"project_id": web_id, "ref": ref, "commits": [commit]})

    async with client:
        await provider.on_event(push("refs/heads/main", added=["svc/catalog-info.yaml", "x.yaml"]))
        await provider.on_event(push("refs/heads/main", removed=["catalog-info.yaml"]))
        await provider.on_event(push("refs/heads/main", modified=["catalog-info.yaml"]))
        await provider.on_event(push("refs/heads/feature", added=["catalog-info.yaml"]))
        await provider.on_event(EventParams("gitlab.push", {"project_id": "1; drop"}))
        await provider.on_event(EventParams("gitlab.push", {"project_id": 99999}))
        await provider.on_event(EventParams("gitlab.merge_request", {"project_id": web_id}))
    web = f"{gitlab.web_base_url}/platform/web"
    [added, removed] = recorder.mutations
    assert isinstance(added, DeltaMutation)
    assert [d.entity["spec"]["target"] for d in added.added] == [
        f"{web}/-/blob/main/svc/catalog-info.yaml"
    ]
    assert isinstance(removed, DeltaMutation)
    assert len(removed.removed) == 1
    assert recorder.refreshed == [
        f"url:{web}/-/tree/main/catalog-info.yaml",
        f"url:{web}/-/blob/main/catalog-info.yaml",
    ]


@pytest.mark.parametrize(
    ("block", "message"),
    [({"schedule": None}, "schedule is required"), ({"projectPattern": "("}, "valid pattern"),
     ({"groupPattern": ["ok", "["]}, "valid pattern")],
)  # fmt: skip
def test_bad_config_is_refused(block: dict[str, Any], message: str) -> None:
    schedule = {"frequency": {"hours": 1}, "timeout": {"minutes": 5}}
    entry = {"host": "gitlab.example", "schedule": schedule, **block}
    entry = {k: v for k, v in entry.items() if v is not None}
    config = Config.from_data({"catalog": {"providers": {"gitlab": {"main": entry}}}})
    with pytest.raises(InputError, match=message):
        read_gitlab_discovery_configs(config)


def test_the_config_schema_knows_every_key() -> None:
    from backstage_common.config import ConfigSchema

    schedule = {"frequency": {"hours": 1}, "timeout": {"minutes": 5}}
    entry = {"host": "gitlab.example", "group": "platform", "groupPattern": ["a", "b"],
             "topics": ["x"], "excludeRepos": ["a/b"], "schedule": schedule}  # fmt: skip
    config = {"catalog": {"providers": {"gitlab": {"main": entry}}}}
    validation = ConfigSchema.from_entry_points().validate(Config.from_data(config))
    assert not validation.errors
    assert not [w for w in validation.warnings if "providers" in w.key]
    entry["topics"] = "x"
    assert ConfigSchema.from_entry_points().validate(Config.from_data(config)).errors


async def test_every_page_of_a_large_group_is_read(gitlab: LoopbackGitlab) -> None:
    for n in range(120):
        gitlab.add_project(FakeRepository("platform/many", f"svc-{n:03}", CATALOG))
    provider, recorder, _, probes, client = await provider_for(gitlab, group="platform/many")
    async with client:
        await provider.read()
    found = targets(recorder.mutations[-1])
    assert len(found) == 120  # three pages of 50, followed through x-next-page
    assert found[0] == f"{gitlab.web_base_url}/platform/many/svc-000/-/blob/main/catalog-info.yaml"
    pages = [path for method, path in gitlab.requests if "/groups/platform%2Fmany/projects" in path]
    assert [parse_qs(urlsplit(p).query)["page"] for p in pages] == [["1"], ["2"], ["3"]]
    assert len(probes) == 120
