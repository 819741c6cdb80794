"""GitHub users and teams (githubOrg) against the loopback GitHub's GraphQL endpoint."""

from __future__ import annotations

import asyncio
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
    FakeOrg,
    FakeTeam,
    FakeUser,
    LoopbackGithub,
    github_graphql_handler,
    start_loopback_github_api,
)
from backstage_common.config import Config
from backstage_common.errors import InputError, NotAllowedError
from backstage_integration import GithubCredentialsProvider, ScmIntegrations
from backstage_plugin_catalog_backend_module_github import (
    GithubApi,
    GithubMultiOrgEntityProvider,
    GithubOrgEntityCleanerProvider,
    app_organizations,
    read_github_org_configs,
)
from backstage_plugin_catalog_node import EntityProviderMutation, FullMutation
from backstage_plugin_events_node import EventParams


class Recorder:
    def __init__(self) -> None:
        self.mutations: list[EntityProviderMutation] = []

    async def apply_mutation(self, mutation: EntityProviderMutation) -> None:
        self.mutations.append(mutation)

    async def refresh(self, keys: Sequence[str]) -> None:
        raise AssertionError("not expected")

    def last(self) -> dict[str, dict[str, Any]]:
        mutation = self.mutations[-1]
        assert isinstance(mutation, FullMutation)
        return {
            f"{d.entity['kind'].lower()}:{d.entity['metadata'].get('namespace', 'default')}/"
            f"{d.entity['metadata']['name']}": d.entity
            for d in mutation.entities
        }


def acme() -> FakeOrg:
    return FakeOrg(
        "acme",
        members=[
            FakeUser("alice", "Alice Archer", "alice@acme.example", "Backend lead",
                     ["alice+gh@corp.example"]),
            FakeUser("bob", "Bob Baker"),
            FakeUser("carol"),
        ],
        teams=[
            FakeTeam("engineering", name="Engineering", description="Everyone who builds"),
            FakeTeam("backend", ["alice", "bob"], parent="engineering", name="Backend"),
            FakeTeam("frontend", ["carol"], parent="engineering"),
        ],
    )  # fmt: skip


@pytest.fixture
async def github() -> AsyncIterator[LoopbackGithub]:
    async with start_loopback_github_api(LoopbackGithub()) as server:
        server.tokens["pat"] = {"acme", "beta"}
        yield server


async def provider_for(
    github: LoopbackGithub, orgs: dict[str, FakeOrg], definitions: Any
) -> tuple[GithubMultiOrgEntityProvider, Recorder, MockScheduler, list[dict[str, Any]], Any]:
    calls: list[dict[str, Any]] = []
    github.handlers.append(github_graphql_handler(github, calls, orgs))
    config = Config.from_data({
        "integrations": {"github": [github.integration_config(token="pat")]},
        "catalog": {"providers": {"githubOrg": definitions}},
    })  # fmt: skip
    parsed = read_github_org_configs(config)
    integrations = ScmIntegrations.from_config(config)
    client = httpx.AsyncClient()
    integration = integrations.github.by_host(github.host)
    assert integration is not None
    api = GithubApi(integration, GithubCredentialsProvider(integrations.github, client), client)
    schedules = MockScheduler()
    provider = GithubMultiOrgEntityProvider(parsed[0], api, schedules, logging.getLogger("o"))  # type: ignore[arg-type]
    recorder = Recorder()
    await provider.connect(recorder)
    return provider, recorder, schedules, calls, client


def definition(github: LoopbackGithub, *orgs: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "production", "githubUrl": github.base_url, "orgs": list(orgs),
        "schedule": {"frequency": {"hours": 1}, "timeout": {"minutes": 15}},
        "pageSizes": {"teams": 2, "teamMembers": 1, "organizationMembers": 2}, **extra,
    }  # fmt: skip


async def test_users_and_teams_with_memberships(github: LoopbackGithub) -> None:
    _, recorder, schedules, calls, client = await provider_for(
        github, {"acme": acme()}, definition(github, "acme")
    )
    async with client:
        await schedules.trigger_task("GithubMultiOrgEntityProvider:production:refresh")
    entities = recorder.last()
    assert sorted(entities) == [
        "group:default/backend", "group:default/engineering", "group:default/frontend",
        "user:default/alice", "user:default/bob", "user:default/carol",
    ]  # fmt: skip
    alice = entities["user:default/alice"]
    assert alice["metadata"]["description"] == "Backend lead"
    assert alice["spec"] == {
        "profile": {"displayName": "Alice Archer", "email": "alice@acme.example",
                    "picture": "https://avatars.example/alice"},
        "memberOf": ["backend"],
    }  # fmt: skip
    assert alice["metadata"]["annotations"]["github.com/user-login"] == "alice"
    assert alice["metadata"]["annotations"]["backstage.io/managed-by-location"] == (
        f"url:{github.base_url}/alice"
    )
    backend = entities["group:default/backend"]
    assert backend["spec"]["members"] == ["alice", "bob"]  # fetched again: one a page
    assert backend["spec"]["parent"] == "engineering"
    assert backend["metadata"]["annotations"]["github.com/team-slug"] == "acme/backend"
    assert backend["metadata"]["annotations"]["backstage.io/managed-by-location"] == (
        f"url:{github.base_url}/orgs/acme/teams/backend"
    )
    assert entities["group:default/engineering"]["spec"]["children"] == ["backend", "frontend"]
    assert entities["user:default/carol"]["spec"]["memberOf"] == ["frontend"]
    assert any("teamSlug" in c for c in calls)
    mutation = recorder.mutations[-1]
    assert isinstance(mutation, FullMutation)
    assert {d.location_key for d in mutation.entities} == {"github-multi-org-provider:production"}


async def test_two_organisations_namespace_their_groups(github: LoopbackGithub) -> None:
    beta = FakeOrg(
        "beta", [FakeUser("alice"), FakeUser("dan")], [FakeTeam("ops", ["alice", "dan"])]
    )
    provider, recorder, _, _, client = await provider_for(
        github, {"acme": acme(), "beta": beta}, definition(github, "acme", "beta")
    )
    async with client:
        await provider.read()
    entities = recorder.last()
    assert "group:beta/ops" in entities
    assert "group:acme/backend" in entities
    assert entities["group:beta/ops"]["spec"]["members"] == ["default/alice", "default/dan"]
    assert entities["user:default/alice"]["spec"]["memberOf"] == ["acme/backend", "beta/ops"]


async def test_verified_emails_and_a_member_dropped_by_github(github: LoopbackGithub) -> None:
    org = acme()
    provider, recorder, _, _, client = await provider_for(
        github, {"acme": org},
        definition(github, "acme", defaultUserTransformer={"useVerifiedEmails": True}),
    )  # fmt: skip
    async with client:
        await provider.read()
        alice = recorder.last()["user:default/alice"]
        assert alice["spec"]["profile"]["email"] == "alice@corp.example"
        org.members = [m for m in org.members if m.login != "bob"]
        org.teams[1].members.remove("bob")
        # a membership webhook of the organisation reads it again without waiting
        event = {"action": "removed", "organization": {"login": "acme"},
                 "team": {"slug": "backend"}, "member": {"login": "bob"}}  # fmt: skip
        await provider.on_event(EventParams("github.membership", event))
    entities = recorder.last()
    assert "user:default/bob" not in entities
    assert entities["group:default/backend"]["spec"]["members"] == ["alice"]
    assert len(recorder.mutations) == 2


async def test_events_of_other_organisations_are_ignored(github: LoopbackGithub) -> None:
    provider, recorder, _, calls, client = await provider_for(
        github, {"acme": acme()}, definition(github, "acme")
    )
    async with client:
        for topic, payload in [
            ("github.membership", {"organization": {"login": "ACME"}}),  # case-sensitive
            ("github.organization", {"organization": {"login": "other"}}),
            ("github.installation",
             {"action": "deleted", "installation": {"account": {"login": "acme"}}}),
            ("github.push", {"organization": {"login": "acme"}}),
            ("github.team", "not an object"),
        ]:  # fmt: skip
            await provider.on_event(EventParams(topic, payload))
    assert recorder.mutations == []
    assert calls == []


async def test_an_organisation_without_credentials_fails_the_whole_read(
    github: LoopbackGithub,
) -> None:
    github.tokens["pat"] = {"acme"}
    provider, recorder, schedules, _, client = await provider_for(
        github, {"acme": acme(), "beta": FakeOrg("beta")}, definition(github, "acme", "beta")
    )
    async with client:
        with pytest.raises(NotAllowedError, match="beta"):
            await provider.read()
        # logged; the catalog keeps what it had
        await schedules.trigger_task("GithubMultiOrgEntityProvider:production:refresh")
        assert schedules.last_error("GithubMultiOrgEntityProvider:production:refresh") is None
    assert recorder.mutations == []


async def test_the_cleaner_empties_the_single_org_providers_entities() -> None:
    recorder = Recorder()
    cleaner = GithubOrgEntityCleanerProvider("production")
    assert cleaner.name == "GithubOrgEntityProvider:production"
    await cleaner.connect(recorder)
    assert recorder.mutations == [FullMutation([])]


@pytest.mark.parametrize(
    ("change", "message"),
    [({"schedule": None}, "schedule"),
     ({"githubUrl": "github.com"}, "http"), ({"id": None}, "id")],
)  # fmt: skip
def test_bad_definitions_are_refused(change: dict[str, Any], message: str) -> None:
    block = {"id": "x", "githubUrl": "https://github.com", "orgs": ["acme"],
             "schedule": {"frequency": {"hours": 1}, "timeout": {"minutes": 5}}}  # fmt: skip
    block.update(change)
    block = {k: v for k, v in block.items() if v is not None}
    config = Config.from_data({"catalog": {"providers": {"githubOrg": [block]}}})
    with pytest.raises(InputError, match=message):
        read_github_org_configs(config)


def test_the_config_schema_knows_every_key() -> None:
    from backstage_common.config import ConfigSchema

    schedule = {"frequency": {"hours": 1}, "timeout": {"minutes": 5}}
    config = {"catalog": {"providers": {
        "githubOrg": [{"id": "a", "githubUrl": "https://github.com", "orgs": ["acme"],
                       "schedule": schedule, "pageSizes": {"teams": 10}}],
        "github": {"acme": {"organization": "acme", "catalogPath": "/**/catalog-info.yaml",
                            "filters": {"topic": {"include": ["x"]}, "allowForks": False},
                            "schedule": schedule}},
    }}}  # fmt: skip
    validation = ConfigSchema.from_entry_points().validate(Config.from_data(config))
    assert not validation.errors
    assert not [w for w in validation.warnings if "providers" in w.key]
    config["catalog"]["providers"]["githubOrg"][0]["orgs"] = "acme"  # type: ignore[index]
    assert ConfigSchema.from_entry_points().validate(Config.from_data(config)).errors


async def test_an_app_installation_token_reads_without_asking_for_emails(
    github: LoopbackGithub,
) -> None:
    """Without `orgs`, the organisations are the App's (user accounts left out)."""
    github.tokens.clear()
    installations = [FakeGithubInstallation(7, "acme"),
                     FakeGithubInstallation(8, "someone", target_type="User")]  # fmt: skip
    app = github.add_app(FakeGithubApp(42, installations))
    calls: list[dict[str, Any]] = []
    github.handlers.append(github_graphql_handler(github, calls, {"acme": acme()}))
    config = Config.from_data({
        "integrations": {"github": [github.integration_config(apps=[app.config()])]},
        "catalog": {"providers": {"githubOrg": definition(github)}},
    })  # fmt: skip
    [parsed] = read_github_org_configs(config)
    assert parsed.orgs == ()
    integrations = ScmIntegrations.from_config(config)
    integration = integrations.github.by_host(github.host)
    assert integration is not None
    recorder = Recorder()
    async with httpx.AsyncClient() as client:
        credentials = GithubCredentialsProvider(integrations.github, client)
        provider = GithubMultiOrgEntityProvider(
            parsed, GithubApi(integration, credentials, client), MockScheduler(),
            logging.getLogger("o"), functools.partial(app_organizations, client, integration),
        )  # fmt: skip
        await provider.connect(recorder)
        await provider.read()
    users = {k: v for k, v in recorder.last().items() if k.startswith("user:")}
    assert sorted(users) == ["user:default/alice", "user:default/bob", "user:default/carol"]
    assert "email" not in users["user:default/alice"]["spec"]["profile"]
    assert {c["email"] for c in calls if "email" in c} == {False}
    assert {c["org"] for c in calls} == {"acme"}
    # groups are namespaced when the organisations come from the App
    assert "group:acme/backend" in recorder.last()


async def test_a_burst_of_events_reads_at_most_twice(github: LoopbackGithub) -> None:
    provider, recorder, _, calls, client = await provider_for(
        github, {"acme": acme()}, definition(github, "acme")
    )
    event = EventParams("github.membership", {"organization": {"login": "acme"}})
    async with client:
        await asyncio.gather(*(provider.on_event(event) for _ in range(20)))
    # one read starts at once, one more waits for it and covers the other 18 events
    assert len(recorder.mutations) == 2
    users_queries = [c for c in calls if "email" in c and c.get("cursor") is None]
    assert len(users_queries) == 2
