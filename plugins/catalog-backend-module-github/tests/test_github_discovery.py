"""GitHub discovery against the loopback GitHub's GraphQL endpoint."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from backstage_backend_test_utils import MockScheduler
from backstage_backend_test_utils.scm import (
    FakeGithubApp,
    FakeGithubInstallation,
    FakeRepository,
    LoopbackGithub,
    github_graphql_handler,
    start_loopback_github_api,
)
from backstage_common.config import Config
from backstage_common.errors import NotAllowedError
from backstage_integration import GithubCredentialsProvider, ScmIntegrations
from backstage_plugin_catalog_backend_module_github import (
    GithubApi,
    GithubEntityProvider,
    app_organizations,
    read_github_discovery_configs,
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
async def github() -> AsyncIterator[LoopbackGithub]:
    async with start_loopback_github_api(LoopbackGithub()) as server:
        server.tokens["pat"] = {"acme"}
        for repo in [
            FakeRepository("acme", "web", CATALOG, topics=["frontend"]),
            FakeRepository("acme", "api", CATALOG, private=True),
            FakeRepository("acme", "old", CATALOG, archived=True),
            FakeRepository("acme", "forked", CATALOG, fork=True),
            FakeRepository("acme", "infra", CATALOG, topics=["internal-only"]),
            FakeRepository("acme", "empty", {}),
            FakeRepository("other", "elsewhere", CATALOG),
        ]:
            server.add_repository(repo)
        yield server


async def provider_for(
    github: LoopbackGithub, **block: Any
) -> tuple[GithubEntityProvider, Recorder, MockScheduler, list[dict[str, Any]], httpx.AsyncClient]:
    calls: list[dict[str, Any]] = []
    github.handlers.append(github_graphql_handler(github, calls))
    config = Config.from_data({
        "integrations": {"github": [github.integration_config(token="pat")]},
        "catalog": {"providers": {"github": {"acme": {
            "host": github.host, "organization": "acme",
            "schedule": {"frequency": {"minutes": 10}, "timeout": {"minutes": 5}},
            "pageSizes": {"repositories": 2}, **block,
        }}}},
    })  # fmt: skip
    [parsed] = read_github_discovery_configs(config)
    integrations = ScmIntegrations.from_config(config)
    client = httpx.AsyncClient()
    integration = integrations.github.by_host(github.host)
    assert integration is not None
    api = GithubApi(integration, GithubCredentialsProvider(integrations.github, client), client)
    schedules = MockScheduler()
    provider = GithubEntityProvider(parsed, api, schedules, logging.getLogger("github"))  # type: ignore[arg-type]
    recorder = Recorder()
    await provider.connect(recorder)
    return provider, recorder, schedules, calls, client


async def test_lists_the_organisation_in_pages_and_keeps_what_passes_the_filters(
    github: LoopbackGithub,
) -> None:
    _, recorder, schedules, calls, client = await provider_for(
        github, filters={"topic": {"exclude": ["internal-only"]}}
    )
    async with client:
        await schedules.trigger_task("github-provider:acme:refresh")
    base = github.base_url
    assert targets(recorder.mutations[-1]) == [
        f"{base}/acme/api/blob/main/catalog-info.yaml",
        f"{base}/acme/forked/blob/main/catalog-info.yaml",
        f"{base}/acme/web/blob/main/catalog-info.yaml",
    ]
    assert [c["cursor"] for c in calls] == [None, "2", "4"]  # acme's six, two a page
    mutation = recorder.mutations[-1]
    assert isinstance(mutation, FullMutation)
    entity = mutation.entities[0].entity
    assert entity["kind"] == "Location"
    assert entity["metadata"]["name"].startswith("generated-")
    assert mutation.entities[0].location_key == "github-provider:acme"


async def test_a_repository_gone_from_github_leaves_the_next_full_mutation(
    github: LoopbackGithub,
) -> None:
    provider, recorder, _, _, client = await provider_for(
        github, filters={"repository": "web|api", "allowForks": False}
    )
    async with client:
        await provider.read()
        assert len(targets(recorder.mutations[-1])) == 2
        del github.repositories["acme/api"]
        await provider.read()
    assert targets(recorder.mutations[-1]) == [
        f"{github.base_url}/acme/web/blob/main/catalog-info.yaml"
    ]


async def test_a_refused_token_applies_nothing(github: LoopbackGithub) -> None:
    github.tokens.clear()
    provider, recorder, _, _, client = await provider_for(github)
    async with client:
        with pytest.raises(NotAllowedError):
            await provider.read()
    assert recorder.mutations == []


def push(base: str, org: str, *, url: str | None = None, **payload: Any) -> EventParams:
    repository = {"name": "web", "html_url": url or f"{base}/acme/web",
                  "default_branch": "main", "topics": [], "visibility": "public"}  # fmt: skip
    return EventParams(
        topic="github.push",
        event_payload={"organization": {"login": org}, "repository": repository, **payload},
    )


async def test_push_events_add_remove_and_refresh_catalog_files(github: LoopbackGithub) -> None:
    provider, recorder, _, _, client = await provider_for(github)
    async with client:
        commits = [{"added": ["catalog-info.yaml"], "removed": [], "modified": ["README.md"]}]
        await provider.on_event(
            push(github.base_url, "ACME", ref="refs/heads/main", commits=commits)
        )
        [added] = recorder.mutations
        assert isinstance(added, DeltaMutation)
        [entity] = added.added
        assert entity.entity["spec"]["target"] == (
            f"{github.base_url}/acme/web/blob/main/catalog-info.yaml"
        )
        commits = [{"added": [], "removed": ["catalog-info.yaml"], "modified": []}]
        await provider.on_event(
            push(github.base_url, "acme", ref="refs/heads/main", commits=commits)
        )
        removed = recorder.mutations[-1]
        assert isinstance(removed, DeltaMutation)
        assert len(removed.removed) == 1

        commits = [{"added": [], "removed": [], "modified": ["catalog-info.yaml"]}]
        await provider.on_event(
            push(github.base_url, "acme", ref="refs/heads/main", commits=commits)
        )
        assert recorder.refreshed == [
            f"url:{github.base_url}/acme/web/tree/main/catalog-info.yaml",
            f"url:{github.base_url}/acme/web/blob/main/catalog-info.yaml",
        ]
        # another organisation, another branch, a malformed payload: nothing happens
        await provider.on_event(
            push(github.base_url, "other", ref="refs/heads/main", commits=commits)
        )
        await provider.on_event(
            push(github.base_url, "acme", ref="refs/heads/dev", commits=commits)
        )
        await provider.on_event(EventParams(topic="github.push", event_payload=["x"]))
        await provider.on_event(
            push(github.base_url, "acme", ref="refs/heads/main", commits="nonsense")
        )
    assert len(recorder.mutations) == 2
    assert len(recorder.refreshed) == 2


async def test_repository_events_remove_deleted_and_archived_repositories(
    github: LoopbackGithub,
) -> None:
    provider, recorder, _, _, client = await provider_for(github)
    async with client:
        for action in ("deleted", "archived", "created"):
            params = push(github.base_url, "acme", action=action)
            await provider.on_event(EventParams("github.repository", params.event_payload))
    assert len(recorder.mutations) == 2
    for mutation in recorder.mutations:
        assert isinstance(mutation, DeltaMutation)
        [removed] = mutation.removed
        assert removed.entity["spec"]["target"].endswith("/acme/web/blob/main/catalog-info.yaml")  # type: ignore[union-attr]


async def test_pushes_naming_another_host_or_organisation_are_ignored(
    github: LoopbackGithub,
) -> None:
    provider, recorder, _, _, client = await provider_for(github)
    commits = [{"added": ["catalog-info.yaml"], "removed": [], "modified": ["catalog-info.yaml"]}]
    base = github.base_url
    async with client:
        for url in (
            "https://evil.example/acme/web",
            f"{base}/other/web",
            f"{base}/acme/../other/web",
            f"{base.replace('http://', 'https://')}/acme/web",
            f"{base}.evil.example/acme/web",
        ):
            await provider.on_event(
                push(base, "acme", url=url, ref="refs/heads/main", commits=commits)
            )
    assert recorder.mutations == []
    assert recorder.refreshed == []


async def test_catalog_path_globs_follow_minimatch(github: LoopbackGithub) -> None:
    provider, recorder, _, _, client = await provider_for(
        github, catalogPath="/**/catalog-info.yaml"
    )
    files = ["catalog-info.yaml", "services/a/catalog-info.yaml", ".github/catalog-info.yaml",
             "services/a/catalog-info.yml", "docs/not-catalog-info.yaml"]  # fmt: skip
    async with client:
        await provider.on_event(
            push(github.base_url, "acme", ref="refs/heads/main",
                 commits=[{"added": files, "removed": [], "modified": []}])
        )  # fmt: skip
    [mutation] = recorder.mutations
    assert isinstance(mutation, DeltaMutation)
    assert sorted(d.entity["spec"]["target"] for d in mutation.added) == [
        f"{github.base_url}/acme/web/blob/main/catalog-info.yaml",
        f"{github.base_url}/acme/web/blob/main/services/a/catalog-info.yaml",
    ]


async def test_an_app_lists_the_repositories_of_every_organisation_it_is_installed_on(
    github: LoopbackGithub,
) -> None:
    github.tokens.clear()
    installations = [FakeGithubInstallation(7, "acme"),
                     FakeGithubInstallation(8, "someone", target_type="User")]  # fmt: skip
    app = github.add_app(FakeGithubApp(42, installations))
    calls: list[dict[str, Any]] = []
    github.handlers.append(github_graphql_handler(github, calls))
    config = Config.from_data({
        "integrations": {"github": [github.integration_config(apps=[app.config()])]},
        "catalog": {"providers": {"github": {"app": 42, "host": github.host,
                                             "filters": {"repository": "web|api"}}}},
    })  # fmt: skip
    [parsed] = read_github_discovery_configs(config)
    assert parsed.organization is None
    integrations = ScmIntegrations.from_config(config)
    integration = integrations.github.by_host(github.host)
    assert integration is not None
    recorder = Recorder()
    async with httpx.AsyncClient() as client:
        provider = GithubEntityProvider(
            parsed,
            GithubApi(integration, GithubCredentialsProvider(integrations.github, client), client),
            MockScheduler(),
            logging.getLogger("github"),
            functools.partial(app_organizations, client, integration, parsed.app),
        )
        await provider.connect(recorder)
        await provider.read()
    assert targets(recorder.mutations[-1]) == [
        f"{github.base_url}/acme/api/blob/main/catalog-info.yaml",  # private: the App reads it
        f"{github.base_url}/acme/web/blob/main/catalog-info.yaml",
    ]
    assert {c["org"] for c in calls} == {"acme"}


async def test_validate_locations_exist_keeps_repositories_with_the_file(
    github: LoopbackGithub,
) -> None:
    github.add_repository(FakeRepository("acme", "bare", {"main": {"README.md": b"x"}}))
    github.add_repository(FakeRepository("acme", "blank", {"main": {"catalog-info.yaml": b""}}))
    provider, recorder, _, _, client = await provider_for(
        github, validateLocationsExist=True, filters={"repository": "web|bare|blank"}
    )
    async with client:
        await provider.read()
    assert targets(recorder.mutations[-1]) == [
        f"{github.base_url}/acme/web/blob/main/catalog-info.yaml"
    ]


@pytest.mark.parametrize(
    ("block", "message"),
    [({"filters": {"branch": "feature/x"}}, "may not contain"),
     ({"validateLocationsExist": True, "catalogPath": "/**/catalog-info.yaml"}, "wildcard"),
     ({"filters": {"repository": "("}}, "not a valid pattern")],
)  # fmt: skip
def test_bad_config_is_refused(block: dict[str, Any], message: str) -> None:
    config = {"catalog": {"providers": {"github": {"organization": "acme", **block}}}}
    from backstage_common.errors import InputError

    with pytest.raises(InputError, match=message):
        read_github_discovery_configs(Config.from_data(config))
