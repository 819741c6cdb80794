"""The provider modules inside a real catalog on PostgreSQL, scheduled by the real
scheduler from their config blocks: LDAP users and groups from a real slapd follow the
directory on the schedule (a deleted user leaves the catalog), and GitHub users, teams and
repositories and GitLab projects follow authenticated webhooks at once, through the events
plugin's ingress and routers, with the schedule an hour away."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from backstage_backend_defaults.scheduler import scheduler_service_factory
from backstage_backend_test_utils import TestBackend, postgres_database_config, start_test_backend
from backstage_backend_test_utils.scm import (
    FakeOrg,
    FakeRepository,
    FakeTeam,
    FakeUser,
    LoopbackGithub,
    github_graphql_handler,
    gitlab_discovery_handler,
    start_loopback_github_api,
    start_loopback_gitlab,
)
from backstage_backend_test_utils.slapd import SUFFIX, run_slapd
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend_module_github import (
    catalog_module_github_entity_provider,
    catalog_module_github_org_entity_provider,
)
from backstage_plugin_catalog_backend_module_gitlab import (
    catalog_module_gitlab_discovery_entity_provider,
)
from backstage_plugin_catalog_backend_module_ldap import catalog_module_ldap_org_entity_provider
from backstage_plugin_events_backend import events_features

SECRET = "org-webhook-secret"


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 30) -> bool:
    for _ in range(int(seconds * 10)):
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def names(test: TestBackend, kind: str) -> list[str]:
    response = await test.client.get("/api/catalog/entities", params={"filter": f"kind={kind}"})
    assert response.status_code == 200
    return sorted(e["metadata"]["name"] for e in response.json())


async def entity(test: TestBackend, ref: str) -> dict[str, Any] | None:
    kind, rest = ref.split(":", 1)
    response = await test.client.get(f"/api/catalog/entities/by-name/{kind}/{rest}")
    return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]


async def test_ldap_users_and_groups_follow_the_directory_on_the_schedule(
    tmp_path: Path,
) -> None:
    with run_slapd(tmp_path / "slapd") as slapd:
        async with postgres_database_config("ldapcat") as database:
            config = {
                "backend": {"database": database, "scheduler": {"pollInterval": "PT0.2S"}},
                "catalog": {"providers": {"ldapOrg": {"acme": {
                    "target": slapd.url,
                    "bind": {"dn": slapd.admin_dn, "secret": slapd.admin_password},
                    "schedule": {"frequency": {"seconds": 1}, "timeout": {"seconds": 30}},
                    "users": {"dn": f"ou=people,{SUFFIX}"},
                    "groups": {"dn": f"ou=groups,{SUFFIX}"},
                }}}},
            }  # fmt: skip
            features = [
                scheduler_service_factory,
                catalog_plugin(),
                catalog_module_ldap_org_entity_provider(),
            ]
            async with start_test_backend(features=features, config=config) as test:

                async def all_users() -> bool:
                    return await names(test, "user") == ["alice", "bob", "carol", "dave"]

                assert await eventually(all_users), "the directory was never read"
                alice = await entity(test, "user:default/alice")
                assert alice is not None
                member_of = sorted(
                    r["targetRef"] for r in alice["relations"] if r["type"] == "memberOf"
                )
                assert member_of == ["group:default/backend", "group:default/management"]
                engineering = await entity(test, "group:default/engineering")
                assert engineering is not None
                children = sorted(
                    r["targetRef"] for r in engineering["relations"] if r["type"] == "parentOf"
                )
                assert children == ["group:default/backend", "group:default/frontend"]

                slapd.modify(
                    f"dn: cn=backend,ou=groups,{SUFFIX}\nchangetype: modify\ndelete: member\n"
                    f"member: uid=bob,ou=people,{SUFFIX}\n\n"
                    f"dn: uid=bob,ou=people,{SUFFIX}\nchangetype: delete\n"
                )

                async def bob_gone() -> bool:
                    return await names(test, "user") == ["alice", "carol", "dave"]

                assert await eventually(bob_gone), "the deleted user stayed in the catalog"


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


async def webhook(test: TestBackend, event: str, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": event,
        "x-hub-signature-256": sign(body),
    }
    response = await test.client.post("/api/events/http/github", content=body, headers=headers)
    assert response.status_code == 202, response.text


def component(name: str) -> bytes:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: backend\n"
    ).encode()


async def test_github_org_and_discovery_follow_webhooks_at_once() -> None:
    async with start_loopback_github_api(LoopbackGithub()) as github:
        github.tokens["pat"] = {"acme"}
        org = FakeOrg(
            "acme",
            [FakeUser("alice", "Alice"), FakeUser("bob", "Bob")],
            [FakeTeam("backend", ["alice", "bob"])],
        )
        github.handlers.append(github_graphql_handler(github, [], {"acme": org}))
        github.add_repository(
            FakeRepository("acme", "shop", {"main": {"catalog-info.yaml": component("shop")}})
        )
        hourly = {"frequency": {"hours": 1}, "timeout": {"minutes": 5}}
        async with postgres_database_config("githubcat") as database:
            config = {
                "backend": {"database": database, "scheduler": {"pollInterval": "PT0.2S"}},
                "integrations": {"github": [github.integration_config(token="pat")]},
                "events": {"modules": {"github": {"webhookSecret": SECRET}}},
                "catalog": {"providers": {
                    "githubOrg": {"id": "production", "githubUrl": github.base_url,
                                  "orgs": ["acme"], "schedule": hourly},
                    "github": {"acme": {"host": github.host, "organization": "acme",
                                        "schedule": hourly}},
                }},
            }  # fmt: skip
            features = [
                scheduler_service_factory,
                catalog_plugin(),
                catalog_module_github_org_entity_provider(),
                catalog_module_github_entity_provider(),
                *events_features(),
            ]
            async with start_test_backend(features=features, config=config) as test:

                async def first_read() -> bool:
                    return await names(test, "user") == ["alice", "bob"] and await names(
                        test, "component"
                    ) == ["shop"]

                assert await eventually(first_read), "the first scheduled reads never landed"

                # bob leaves the team and the organisation: the membership webhook reads again
                org.members = [m for m in org.members if m.login != "bob"]
                org.teams[0].members = ["alice"]
                await webhook(test, "membership", {
                    "action": "removed", "scope": "team", "organization": {"login": "acme"},
                    "team": {"slug": "backend"}, "member": {"login": "bob"},
                })  # fmt: skip

                async def bob_gone() -> bool:
                    return await names(test, "user") == ["alice"]

                assert await eventually(bob_gone, 15), "the membership webhook was not acted on"

                # a new repository's catalog file pushed to its default branch is added at once
                github.add_repository(
                    FakeRepository(
                        "acme", "cart", {"main": {"catalog-info.yaml": component("cart")}}
                    )
                )
                await webhook(test, "push", {
                    "ref": "refs/heads/main", "organization": {"login": "acme"},
                    "repository": {"name": "cart", "html_url": f"{github.base_url}/acme/cart",
                                   "default_branch": "main", "topics": [],
                                   "visibility": "public"},
                    "commits": [{"added": ["catalog-info.yaml"], "removed": [], "modified": []}],
                })  # fmt: skip

                async def cart_added() -> bool:
                    return await names(test, "component") == ["cart", "shop"]

                assert await eventually(cart_added, 15), "the push webhook was not acted on"


async def test_gitlab_discovery_follows_push_webhooks_at_once() -> None:
    async with start_loopback_gitlab() as gitlab:
        gitlab.tokens["glpat"] = {"platform"}
        gitlab.handlers.append(gitlab_discovery_handler(gitlab, []))
        shop = gitlab.add_project(
            FakeRepository("platform", "shop", {"main": {"catalog-info.yaml": component("shop")}})
        )
        gitlab.add_project(FakeRepository("platform", "docs", {"main": {"README.md": b"x"}}))
        async with postgres_database_config("gitlabcat") as database:
            config = {
                "backend": {"database": database, "scheduler": {"pollInterval": "PT0.2S"}},
                "integrations": {"gitlab": [gitlab.integration_config(token="glpat")]},
                "events": {"modules": {"gitlab": {"webhookSecret": SECRET}}},
                "catalog": {"providers": {"gitlab": {"platform": {
                    "host": gitlab.host, "group": "platform",
                    "schedule": {"frequency": {"hours": 1}, "timeout": {"minutes": 5}},
                }}}},
            }  # fmt: skip
            features = [
                scheduler_service_factory,
                catalog_plugin(),
                catalog_module_gitlab_discovery_entity_provider(),
                *events_features(),
            ]
            async with start_test_backend(features=features, config=config) as test:

                async def first_read() -> bool:
                    return await names(test, "component") == ["shop"]

                assert await eventually(first_read), "the first scheduled read never landed"

                shop.branches["main"]["services/cart/catalog-info.yaml"] = component("cart")
                body = json.dumps({
                    "object_kind": "push", "ref": "refs/heads/main", "project_id": shop.id,
                    "commits": [{"added": ["services/cart/catalog-info.yaml"],
                                 "removed": [], "modified": []}],
                }).encode()  # fmt: skip
                headers = {"content-type": "application/json", "x-gitlab-event": "Push Hook"}
                forged = await test.client.post(
                    "/api/events/http/gitlab", content=body,
                    headers={**headers, "x-gitlab-token": "guess"},
                )  # fmt: skip
                assert forged.status_code == 403
                response = await test.client.post(
                    "/api/events/http/gitlab", content=body,
                    headers={**headers, "x-gitlab-token": SECRET},
                )  # fmt: skip
                assert response.status_code == 202, response.text

                async def cart_added() -> bool:
                    return await names(test, "component") == ["cart", "shop"]

                assert await eventually(cart_added, 15), "the push webhook was not acted on"
