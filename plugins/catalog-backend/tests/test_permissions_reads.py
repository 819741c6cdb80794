"""Every entity read route under a conditional `catalog.entity.read` decision: the
conditions are part of the SQL, so items, pages, totals and facets are exactly those of the
entities the user may read; under DENY nothing is read; a service reads everything."""

from __future__ import annotations

import base64
import json
from typing import Any

from backstage_backend_test_utils import mock_credentials

from ._policy import (
    DENY,
    TablePolicy,
    any_of,
    condition,
    conditional,
    table_permissions_factory,
)
from .sample_catalog import LOCATION_REF, Catalog, started_catalog

ALICE = "user:default/alice"
BOB = "user:default/bob"
# team-a's entities and every user
ALICE_READS = conditional(
    any_of(
        condition("IS_ENTITY_OWNER", claims=["group:default/team-a", ALICE]),
        condition("IS_ENTITY_KIND", kinds=["User"]),
    )
)
ALICE_SEES = ["alice", "bob", "monitor", "pets", "petstore", "petstore-api"]
# team-b's components only
BOB_READS = conditional(condition("IS_ENTITY_OWNER", claims=["group:default/team-b"]))
BOB_SEES = ["search-api", "website", "worker"]


def read_policy() -> TablePolicy:
    return TablePolicy(
        users={
            ALICE: {"catalog.entity.read": ALICE_READS},
            BOB: {"catalog.entity.read": BOB_READS},
            "user:default/nobody": {"catalog.entity.read": DENY},
        }
    )


def as_user(ref: str) -> dict[str, str]:
    return mock_credentials.user_header(ref)


async def get(catalog: Catalog, path: str, user: str, **params: Any) -> Any:
    return await catalog.test.client.get(
        f"/api/catalog{path}", params=params, headers=as_user(user)
    )


async def post(catalog: Catalog, path: str, user: str, body: Any) -> Any:
    return await catalog.test.client.post(f"/api/catalog{path}", json=body, headers=as_user(user))


def names(entities: list[dict[str, Any]]) -> list[str]:
    return [entity["metadata"]["name"] for entity in entities]


async def uid_of(catalog: Catalog, ref: str) -> str:
    response = await catalog.test.client.post(
        "/api/catalog/entities/by-refs",
        json={"entityRefs": [ref]},
        headers=mock_credentials.service_header(),
    )
    uid: str = response.json()["items"][0]["metadata"]["uid"]
    return uid


async def test_listing_streamed_and_paged(database_config: dict[str, Any]) -> None:
    features = [table_permissions_factory(read_policy())]
    async with started_catalog(database_config, features=features) as catalog:
        response = await get(catalog, "/entities", ALICE)
        assert response.status_code == 200, response.text
        assert sorted(names(response.json())) == ALICE_SEES
        filtered = await get(catalog, "/entities", ALICE, filter="kind=component")
        assert sorted(names(filtered.json())) == ["monitor", "petstore"]

        # two at a time through the Link header: every page full, nothing twice
        seen: list[str] = []
        response = await get(catalog, "/entities", ALICE, limit=2, order="asc:metadata.name")
        while True:
            assert response.status_code == 200, response.text
            page = names(response.json())
            seen += page
            link = response.headers.get("link")
            if not link:
                break
            assert len(page) == 2
            query = link[link.index("?") + 1 : link.index(">")]
            response = await catalog.test.client.get(
                f"/api/catalog/entities?{query}", headers=as_user(ALICE)
            )
        assert seen == ALICE_SEES

        response = await get(catalog, "/entities", BOB)
        assert sorted(names(response.json())) == BOB_SEES


async def test_by_query_pages_totals_and_cursors(database_config: dict[str, Any]) -> None:
    features = [table_permissions_factory(read_policy())]
    async with started_catalog(database_config, features=features) as catalog:
        response = await get(
            catalog, "/entities/by-query", ALICE, orderField="metadata.name,asc", limit=2
        )
        seen: list[str] = []
        totals: list[int] = []
        cursors: list[str] = []
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            seen += names(body["items"])
            totals.append(body["totalItems"])
            cursor = body["pageInfo"].get("nextCursor")
            if cursor is None:
                break
            cursors.append(cursor)
            response = await get(catalog, "/entities/by-query", ALICE, cursor=cursor)
        assert seen == ALICE_SEES
        assert totals == [6, 6, 6]
        # the cursor carries the caller's query alone: the permission is applied again
        for cursor in cursors:
            decoded = json.loads(base64.b64decode(cursor))
            assert "filter" not in decoded
            assert "query" not in decoded
            assert "ownedby" not in json.dumps(decoded).lower()

        # another user's cursor pages through what the bearer may read, never the maker's
        response = await get(catalog, "/entities/by-query", BOB, cursor=cursors[0])
        assert response.status_code == 200
        assert set(names(response.json()["items"])) <= set(BOB_SEES)

        # the caller's filter and the permission together, POSTed with a query
        response = await post(
            catalog,
            "/entities/by-query",
            ALICE,
            {"query": {"kind": {"$in": ["component", "api"]}}, "orderBy": [], "limit": 1},
        )
        body = response.json()
        assert body["totalItems"] == 3
        assert len(body["items"]) == 1
        more = await post(
            catalog, "/entities/by-query", ALICE, {"cursor": body["pageInfo"]["nextCursor"]}
        )
        assert more.json()["totalItems"] == 3

        # full-text search sees only readable entities
        response = await get(
            catalog,
            "/entities/by-query",
            ALICE,
            fullTextFilterTerm="pet",
            fullTextFilterFields="metadata.name",
        )
        assert sorted(names(response.json()["items"])) == ["pets", "petstore", "petstore-api"]
        assert response.json()["totalItems"] == 3


async def test_by_refs_uid_and_name(database_config: dict[str, Any]) -> None:
    features = [table_permissions_factory(read_policy())]
    async with started_catalog(database_config, features=features) as catalog:
        refs = ["component:default/petstore", "component:default/website", "api:default/nope"]
        response = await post(catalog, "/entities/by-refs", ALICE, {"entityRefs": refs})
        assert response.status_code == 200
        items = response.json()["items"]
        assert items[0]["metadata"]["name"] == "petstore"
        assert items[1:] == [None, None]
        filtered = await catalog.test.client.post(
            "/api/catalog/entities/by-refs?filter=kind=api",
            json={"entityRefs": refs},
            headers=as_user(ALICE),
        )
        assert filtered.json()["items"] == [None, None, None]

        petstore, website = (
            await uid_of(catalog, "component:default/petstore"),
            await uid_of(catalog, "component:default/website"),
        )
        assert (await get(catalog, f"/entities/by-uid/{petstore}", ALICE)).status_code == 200
        hidden = await get(catalog, f"/entities/by-uid/{website}", ALICE)
        assert hidden.status_code == 404
        assert hidden.json()["error"]["name"] == "NotFoundError"
        assert (await get(catalog, f"/entities/by-uid/{website}", BOB)).status_code == 200

        by_name = "/entities/by-name/component/default/"
        assert (await get(catalog, by_name + "petstore", ALICE)).status_code == 200
        assert (await get(catalog, by_name + "website", ALICE)).status_code == 404
        assert (await get(catalog, by_name + "petstore", BOB)).status_code == 404


async def test_facets_count_readable_entities_only(database_config: dict[str, Any]) -> None:
    features = [table_permissions_factory(read_policy())]
    async with started_catalog(database_config, features=features) as catalog:
        response = await get(catalog, "/entity-facets", ALICE, facet=["kind", "spec.lifecycle"])
        assert response.status_code == 200
        facets = response.json()["facets"]
        assert facets["kind"] == [
            {"value": "API", "count": 1},
            {"value": "Component", "count": 2},
            {"value": "System", "count": 1},
            {"value": "User", "count": 2},
        ]
        assert facets["spec.lifecycle"] == [{"value": "production", "count": 3}]
        # the same counts twice (they are kept while the catalog stands still) and per user
        again = await get(catalog, "/entity-facets", ALICE, facet=["kind", "spec.lifecycle"])
        assert again.json()["facets"] == facets
        bob = await post(catalog, "/entity-facets", BOB, {"facets": ["kind"]})
        assert bob.json()["facets"]["kind"] == [
            {"value": "API", "count": 1},
            {"value": "Component", "count": 2},
        ]
        filtered = await get(catalog, "/entity-facets", ALICE, facet="kind", filter="kind=user")
        assert filtered.json()["facets"]["kind"] == [{"value": "User", "count": 2}]


async def test_ancestry_denies_the_root_and_trims_ancestors(
    database_config: dict[str, Any],
) -> None:
    policy = read_policy()
    # carol may read team-a's entities and locations
    carol = "user:default/carol"
    policy.users[carol] = {
        "catalog.entity.read": conditional(
            any_of(
                condition("IS_ENTITY_OWNER", claims=["group:default/team-a"]),
                condition("IS_ENTITY_KIND", kinds=["location"]),
            )
        )
    }
    features = [table_permissions_factory(policy)]
    async with started_catalog(database_config, features=features) as catalog:
        path = "/entities/by-name/component/default/petstore/ancestry"
        # the location above petstore is not Alice's to read: it is left out
        response = await get(catalog, path, ALICE)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["rootEntityRef"] == "component:default/petstore"
        assert [item["entity"]["metadata"]["name"] for item in body["items"]] == ["petstore"]

        response = await get(catalog, path, carol)
        refs = [
            f"{i['entity']['kind']}:default/{i['entity']['metadata']['name']}".lower()
            for i in response.json()["items"]
        ]
        assert refs == ["component:default/petstore", LOCATION_REF]

        denied = await get(catalog, "/entities/by-name/component/default/website/ancestry", ALICE)
        assert denied.status_code == 403
        assert denied.json()["error"]["name"] == "NotAllowedError"
        # a missing root is a denied one under conditions (as Backstage resolves it)
        missing = await get(catalog, "/entities/by-name/component/default/nope/ancestry", ALICE)
        assert missing.status_code == 403
        denied = await get(catalog, path, "user:default/nobody")
        assert denied.status_code == 403


async def test_deny_reads_nothing(database_config: dict[str, Any]) -> None:
    features = [table_permissions_factory(read_policy())]
    nobody = "user:default/nobody"
    async with started_catalog(database_config, features=features) as catalog:
        assert (await get(catalog, "/entities", nobody)).json() == []
        paged = await get(catalog, "/entities", nobody, limit=2)
        assert paged.json() == []
        assert "link" not in paged.headers
        response = await get(catalog, "/entities/by-query", nobody)
        assert response.json() == {"items": [], "totalItems": 0, "pageInfo": {}}
        refs = {"entityRefs": ["component:default/petstore"]}
        assert (await post(catalog, "/entities/by-refs", nobody, refs)).json() == {"items": [None]}
        uid = await uid_of(catalog, "component:default/petstore")
        assert (await get(catalog, f"/entities/by-uid/{uid}", nobody)).status_code == 404
        by_name = "/entities/by-name/component/default/petstore"
        assert (await get(catalog, by_name, nobody)).status_code == 404
        facets = await get(catalog, "/entity-facets", nobody, facet="kind")
        assert facets.json() == {"facets": {"kind": []}}


async def test_services_read_everything(database_config: dict[str, Any]) -> None:
    policy = TablePolicy(default=DENY)
    features = [table_permissions_factory(policy)]
    async with started_catalog(database_config, features=features) as catalog:
        response = await catalog.test.client.get(
            "/api/catalog/entities/by-query",
            params={"limit": 100},
            headers=mock_credentials.service_header("plugin:search"),
        )
        assert response.json()["totalItems"] == 13
        # the plugin is asked with the caller's credentials: the service's subject
        assert ("plugin:search", "catalog.entity.read") in policy.asked
        users = await get(catalog, "/entities", ALICE)
        assert users.json() == []
