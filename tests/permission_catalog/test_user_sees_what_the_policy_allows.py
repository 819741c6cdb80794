"""A person signed in through the auth plugin sees exactly what the permission policy allows,
through the catalog's REST API, its Python client, Backstage's own `CatalogClient` from
npm, and search: the catalog ingests a file location, the auth plugin's guest provider
signs in as a catalog user (its ownership refs from the catalog), and the permission
plugin's config policy decides with `$ownerRefs`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import MockScheduler, TestBackend, start_test_backend
from backstage_plugin_auth_backend import auth_plugin
from backstage_plugin_auth_backend_module_guest_provider import auth_module_guest_provider
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_node import CatalogClient
from backstage_plugin_permission_backend import permission_plugin
from backstage_plugin_search_backend import search_module_catalog_collator, search_plugin

HERE = Path(__file__).parent
ALICE = "user:default/alice"
ALICE_OWNS = {ALICE, "group:default/team-a"}
POLICY = {
    "default": "deny",
    "rules": [
        {
            "permission": "catalog.entity.read",
            "resourceType": "catalog-entity",
            "decision": "conditional",
            "conditions": {
                "anyOf": [
                    {"rule": "IS_ENTITY_OWNER", "params": {"claims": "$ownerRefs"}},
                    {"rule": "IS_ENTITY_KIND", "params": {"kinds": ["user", "group"]}},
                ]
            },
        },
        {"permission": "catalog.location.read", "decision": "allow"},
    ],
}


def _entity(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "description": f"The {name} of the pet shop"},
        "spec": spec,
    }


def catalog_entities() -> list[dict[str, Any]]:
    entities = [
        _entity("Group", "team-a", type="team", children=[]),
        _entity("Group", "team-b", type="team", children=[]),
        _entity("User", "alice", memberOf=["team-a"]),
        _entity("User", "bob", memberOf=["team-b"]),
        _entity("System", "pets", owner="team-a"),
        _entity("Component", "alice-tool", type="tool", lifecycle="production", owner=ALICE),
        _entity(
            "API",
            "pet-api",
            type="openapi",
            lifecycle="production",
            owner="team-a",
            definition="openapi: 3.0.0",
        ),
        _entity(
            "API",
            "search-api",
            type="grpc",
            lifecycle="production",
            owner="team-b",
            definition="syntax",
        ),
    ]
    for number in range(12):
        owner = "team-a" if number % 2 == 0 else "team-b"
        entities.append(
            _entity(
                "Component", f"svc-{number:02}", type="service", lifecycle="production", owner=owner
            )
        )
    return entities


def ref_of(entity: dict[str, Any]) -> str:
    return f"{entity['kind']}:default/{entity['metadata']['name']}".lower()


def visible_to_alice(entity: dict[str, Any]) -> bool:
    """The policy, applied by hand to the file's entities."""
    if entity["kind"] in ("User", "Group"):
        return True
    owner = entity["spec"].get("owner", "")
    owner_ref = owner if ":" in owner else f"group:default/{owner}"
    return owner_ref in ALICE_OWNS


_KINDS = ("component", "api", "system", "user", "group")


@dataclass
class Portal:
    test: TestBackend
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


async def _wait_for_ingestion(
    client: httpx.AsyncClient, headers: dict[str, str], count: int
) -> None:
    for _ in range(300):
        response = await client.get(
            "/api/catalog/entities/by-query",
            params=[("limit", "0")] + [("filter", f"kind={kind}") for kind in _KINDS],
            headers=headers,
        )
        if response.status_code == 200 and response.json()["totalItems"] >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the catalog file was not ingested in time")


@asynccontextmanager
async def started_portal(
    tmp_path: Path, *, anonymous: bool = False, policy: dict[str, Any] = POLICY
) -> AsyncIterator[Portal]:
    catalog_file = tmp_path / "catalog-info.yaml"
    catalog_file.write_text(yaml.safe_dump_all(catalog_entities()))
    config = {
        "app": {"baseUrl": "http://localhost:3000"},
        "backend": {
            "environment": "development",
            "auth": {
                "externalAccess": [
                    {"type": "static", "options": {"token": "ci-token", "subject": "ci"}}
                ],
                "dangerouslyDisableDefaultAuthPolicy": anonymous,
            },
        },
        "auth": {"providers": {"guest": {"userEntityRef": ALICE}}},
        "permission": {"enabled": True, "policy": policy},
        "catalog": {
            "locations": [
                {
                    "type": "file",
                    "target": str(catalog_file),
                    "rules": [{"allow": ["Group", "User", "System", "Component", "API"]}],
                }
            ]
        },
        "search": {
            # the default budget (1 s) may cut a filtered page short on a busy machine
            "permissions": {"queryLatencyBudgetMs": 120_000},
            "collators": {
                "catalog": {
                    "schedule": {"frequency": {"trigger": "manual"}, "timeout": {"minutes": 1}}
                }
            },
        },
    }
    features = [
        auth_service_factory,
        http_auth_service_factory,
        auth_plugin(),
        auth_module_guest_provider(),
        catalog_plugin(),
        permission_plugin(),
        search_plugin(),
        search_module_catalog_collator(),
    ]
    async with start_test_backend(features=features, config=config) as test:
        service = {"authorization": "Bearer ci-token"}
        await _wait_for_ingestion(test.client, service, len(catalog_entities()))
        signed_in = await test.client.get(
            "/api/auth/guest/refresh", headers={"X-Requested-With": "XMLHttpRequest"}
        )
        assert signed_in.status_code == 200, signed_in.text
        identity = signed_in.json()["backstageIdentity"]
        # the ownership refs come from the catalog: Alice and her team
        assert set(identity["identity"]["ownershipEntityRefs"]) == ALICE_OWNS
        yield Portal(test, identity["token"])


@pytest.fixture
def client_packages() -> None:
    """`npm ci` from the committed lock file, once per checkout."""
    npm = shutil.which("npm")
    if not (shutil.which("node") and npm):
        message = "node and npm are needed to run Backstage's catalog client"
        if os.environ.get("BACKSTAGE_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    if not (HERE / "node_modules" / "@backstage" / "catalog-client").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True
        )


async def test_rest_api_and_python_client(tmp_path: Path) -> None:
    entities = catalog_entities()
    expected = sorted(ref_of(e) for e in entities if visible_to_alice(e))
    hidden = sorted(ref_of(e) for e in entities if not visible_to_alice(e))
    assert len(expected) == 13
    assert len(hidden) == 7
    async with started_portal(tmp_path) as portal:
        client = portal.test.client
        listed = await client.get("/api/catalog/entities", headers=portal.headers)
        assert sorted(ref_of(e) for e in listed.json()) == expected

        # the same through the Python client, on Alice's behalf (a plugin token with her obo)
        auth = await portal.test.get_service(core.auth, "search")
        discovery = await portal.test.get_service(core.discovery, "search")
        credentials = await auth.authenticate(portal.token)
        catalog = CatalogClient(discovery=discovery, auth=auth)
        try:
            seen = await catalog.get_entities(credentials=credentials)
            assert sorted(ref_of(e) for e in seen) == expected
            page = await catalog.query_entities(limit=5, credentials=credentials)
            refs = [ref_of(e) for e in page.items]
            while page.next_cursor is not None:
                assert page.total_items == 13
                page = await catalog.query_entities(
                    cursor=page.next_cursor, credentials=credentials
                )
                refs += [ref_of(e) for e in page.items]
            assert sorted(refs) == expected
            by_refs = await catalog.get_entities_by_refs(
                [expected[0], hidden[0]], credentials=credentials
            )
            assert [None if e is None else ref_of(e) for e in by_refs] == [expected[0], None]
            assert await catalog.get_entity_by_ref(hidden[0], credentials=credentials) is None
            facets = await catalog.get_entity_facets(["kind"], credentials=credentials)
            counts = {bucket.value: bucket.count for bucket in facets["kind"]}
            assert counts == {"API": 1, "Component": 7, "Group": 2, "System": 1, "User": 2}
            # the catalog's own service view is whole
            everything = await catalog.get_entities(filter={"kind": ["component"]})
            assert len(everything) == 13
        finally:
            await catalog.aclose()


@pytest.mark.usefixtures("client_packages")
async def test_backstages_catalog_client(tmp_path: Path) -> None:
    entities = catalog_entities()
    expected = sorted(ref_of(e) for e in entities if visible_to_alice(e))
    asked = ["component:default/svc-00", "component:default/svc-01", "api:default/pet-api"]
    async with started_portal(tmp_path) as portal:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(HERE / "user_view.mjs"),
            cwd=HERE,
            env={
                **os.environ,
                "CATALOG_BASE_URL": f"{portal.test.base_url}/api/catalog",
                "USER_TOKEN": portal.token,
                "ENTITY_REFS": ",".join(asked),
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()[-4000:]
    seen = json.loads(stdout.decode().strip().splitlines()[-1])
    # the listing also holds the catalog's Location entity for the file: not Alice's
    assert seen["listed"] == expected
    assert sorted(seen["paged"]) == expected
    assert len(seen["paged"]) == len(set(seen["paged"]))
    assert set(seen["totals"]) == {13}
    assert seen["byRefs"] == [asked[0], None, asked[2]]
    assert seen["byName"] == [asked[0], None, asked[2]]
    assert seen["kinds"] == {"API": 1, "Component": 7, "Group": 2, "System": 1, "User": 2}


async def test_search_shows_only_readable_entities(tmp_path: Path) -> None:
    entities = catalog_entities()
    async with started_portal(tmp_path) as portal:
        scheduler = await portal.test.get_service(core.scheduler, "search")
        assert isinstance(scheduler, MockScheduler)
        await scheduler.trigger_task("search_index_software_catalog")
        titles: list[str] = []
        cursor = ""
        while True:
            response = await portal.test.client.get(
                f"/api/search/query?term=pet&types=software-catalog&pageLimit=4{cursor}",
                headers=portal.headers,
            )
            assert response.status_code == 200, response.text
            body = response.json()
            page = [result["document"]["title"] for result in body["results"]]
            assert "authorization" not in json.dumps(body["results"])
            titles += page
            if "nextPageCursor" not in body:
                break
            assert len(page) == 4
            cursor = f"&pageCursor={body['nextPageCursor']}"
        expected = sorted(e["metadata"]["name"] for e in entities if visible_to_alice(e))
        assert sorted(titles) == expected
        # a service searching sees every document
        everything = await portal.test.client.get(
            "/api/search/query?term=pet&types=software-catalog&pageLimit=100",
            headers={"authorization": "Bearer ci-token"},
        )
        assert everything.json()["numberOfResults"] == len(entities)


async def test_a_reader_without_credentials_sees_what_the_policy_allows_nobody(
    tmp_path: Path,
) -> None:
    """With the default auth policy off, a caller without a token is nobody to the policy:
    its conditions still become the catalog's SQL and filter search, instead of an error."""
    entities = catalog_entities()
    public = sorted(ref_of(e) for e in entities if e["kind"] in ("User", "Group"))
    people_only = {
        "default": "deny",
        "rules": [
            {
                "permission": "catalog.entity.read",
                "resourceType": "catalog-entity",
                "decision": "conditional",
                "conditions": {"rule": "IS_ENTITY_KIND", "params": {"kinds": ["user", "group"]}},
            }
        ],
    }
    async with started_portal(tmp_path, anonymous=True, policy=people_only) as portal:
        client = portal.test.client
        listed = await client.get(
            "/api/catalog/entities/by-query",
            params=[("limit", "100")] + [("filter", f"kind={kind}") for kind in _KINDS],
        )
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert sorted(ref_of(e) for e in body["items"]) == public
        assert body["totalItems"] == len(public)
        facets = await client.get("/api/catalog/entity-facets?facet=kind")
        assert facets.status_code == 200, facets.text
        assert {f["value"]: f["count"] for f in facets.json()["facets"]["kind"]} == {
            "Group": 2,
            "User": 2,
        }
        scheduler = await portal.test.get_service(core.scheduler, "search")
        assert isinstance(scheduler, MockScheduler)
        await scheduler.trigger_task("search_index_software_catalog")
        found = await client.get("/api/search/query?term=pet&types=software-catalog&pageLimit=100")
        assert found.status_code == 200, found.text
        titles = sorted(result["document"]["title"] for result in found.json()["results"])
        assert titles == sorted(
            e["metadata"]["name"] for e in entities if e["kind"] in ("User", "Group")
        )
