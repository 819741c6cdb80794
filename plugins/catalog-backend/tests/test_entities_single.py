"""by-refs, by-uid, by-name, ancestry, facets and deletion by uid."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from backstage_plugin_catalog_backend._tables import refresh_state, relations

from .sample_catalog import LOCATION_REF, started_catalog


async def test_by_refs_keeps_request_order_with_nulls(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        refs = [
            "API:default/search-api",
            "component:default/nothing",
            "component:default/petstore",
            "user:default/alice",
            "component:default/petstore",
        ]
        response = await catalog.post("/entities/by-refs", {"entityRefs": refs})
        assert response.status_code == 200
        items = response.json()["items"]
        assert [item and item["metadata"]["name"] for item in items] == [
            "search-api",
            None,
            "petstore",
            "alice",
            "petstore",
        ]
        # GET filter, body query and fields combine
        response = await catalog.post(
            "/entities/by-refs",
            {
                "entityRefs": refs,
                "fields": ["metadata.name"],
                "query": {"kind": {"$in": ["api", "component"]}},
            },
            filter="spec.lifecycle=production",
        )
        assert response.json() == {
            "items": [
                None,
                None,
                {"metadata": {"name": "petstore"}},
                None,
                {"metadata": {"name": "petstore"}},
            ]
        }
        assert (await catalog.post("/entities/by-refs", {"entityRefs": []})).json() == {"items": []}


async def test_by_uid_and_by_name(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        stored = {ref: text for ref, _, text in await catalog.stored()}
        response = await catalog.get("/entities/by-name/Component/default/PetStore")
        assert response.status_code == 200
        assert response.text == stored["component:default/petstore"]
        uid = response.json()["metadata"]["uid"]
        response = await catalog.get(f"/entities/by-uid/{uid}")
        assert response.status_code == 200
        assert response.text == stored["component:default/petstore"]
        missing = await catalog.get("/entities/by-uid/no-such-uid")
        assert missing.status_code == 404
        assert missing.json() == {
            "error": {"name": "NotFoundError", "message": "No entity with uid no-such-uid"},
            "request": {"method": "GET", "url": "/entities/by-uid/no-such-uid"},
            "response": {"statusCode": 404},
        }
        unknown_kind = await catalog.get("/entities/by-name/frobnicator/default/petstore")
        assert unknown_kind.status_code == 404
        assert unknown_kind.json()["error"]["message"] == (
            "No entity named 'petstore' found, with kind 'frobnicator' in namespace 'default'"
        )


async def test_ancestry(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        response = await catalog.get("/entities/by-name/component/default/petstore/ancestry")
        assert response.status_code == 200
        body = response.json()
        assert body["rootEntityRef"] == "component:default/petstore"
        assert [(item["entity"]["kind"], item["parentEntityRefs"]) for item in body["items"]] == [
            ("Component", [LOCATION_REF]),
            ("Location", []),
        ]
        missing = await catalog.get("/entities/by-name/component/default/nothing/ancestry")
        assert missing.status_code == 404
        assert missing.json()["error"]["message"] == "No such entity component:default/nothing"


async def test_facets(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        response = await catalog.get(
            "/entity-facets", facet=["Kind", "metadata.tags"], filter="kind=component"
        )
        assert response.status_code == 200
        facets = response.json()["facets"]
        assert facets["Kind"] == [{"value": "Component", "count": 4}]
        assert sorted(facets["metadata.tags"], key=lambda f: f["value"].lower()) == [
            {"value": "java", "count": 2},
            {"value": "react", "count": 1},
            {"value": "Web", "count": 1},
        ]
        everything = (await catalog.get("/entity-facets", facet="kind")).json()["facets"]["kind"]
        assert {f["value"]: f["count"] for f in everything} == {
            "API": 2,
            "Component": 4,
            "Group": 3,
            "Location": 1,
            "System": 1,
            "User": 2,
        }
        response = await catalog.post(
            "/entity-facets",
            {"facets": ["spec.lifecycle", "spec.nothing"], "query": {"$not": {"kind": "api"}}},
        )
        assert response.json() == {
            "facets": {
                "spec.lifecycle": [
                    {"value": "experimental", "count": 1},
                    {"value": "production", "count": 3},
                ],
                "spec.nothing": [],
            }
        }


async def test_delete_by_uid(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        petstore = (await catalog.get("/entities/by-name/component/default/petstore")).json()
        team = (await catalog.get("/entities/by-name/group/default/team-a")).json()
        assert {"type": "ownerOf", "targetRef": "component:default/petstore"} in team["relations"]

        response = await catalog.test.client.delete(
            f"/api/catalog/entities/by-uid/{petstore['metadata']['uid']}"
        )
        assert response.status_code == 204
        assert response.content == b""

        assert (
            await catalog.get("/entities/by-name/component/default/petstore")
        ).status_code == 404
        assert (await catalog.get("/entities", filter="metadata.name=petstore")).json() == []
        # peers are re-stitched without the relations the deleted entity emitted
        team = (await catalog.get("/entities/by-name/group/default/team-a")).json()
        assert {"type": "ownerOf", "targetRef": "component:default/petstore"} not in team[
            "relations"
        ]
        api = (await catalog.get("/entities/by-name/api/default/petstore-api")).json()
        assert all(r["targetRef"] != "component:default/petstore" for r in api["relations"])
        async with catalog.engine.connect() as connection:
            location = (
                await connection.execute(
                    sa.select(refresh_state.c.result_hash, refresh_state.c.next_update_at).where(
                        refresh_state.c.entity_ref == LOCATION_REF
                    )
                )
            ).one()
            left = (
                await connection.execute(
                    sa.select(sa.func.count()).where(
                        relations.c.originating_entity_id == petstore["metadata"]["uid"]
                    )
                )
            ).scalar_one()
        # the location that emitted it is asked to run again, and will write it back
        assert location.result_hash == "child-was-deleted"
        assert left == 0
        # deleting an unknown uid is not an error
        again = await catalog.test.client.delete("/api/catalog/entities/by-uid/no-such-uid")
        assert again.status_code == 204


async def test_requests_as_backstages_client_sends_them(database_config: dict[str, Any]) -> None:
    """The client sends `Content-Type: application/json` on every request, with or
    without a body."""
    async with started_catalog(database_config) as catalog:
        client = catalog.test.client
        json_type = {"content-type": "application/json"}
        response = await client.get(
            "/api/catalog/entities", params={"filter": "kind=user"}, headers=json_type
        )
        assert sorted(e["metadata"]["name"] for e in response.json()) == ["alice", "bob"]
        response = await client.post("/api/catalog/entities/by-query", headers=json_type)
        assert response.status_code == 200
        assert response.json()["totalItems"] == 13
        response = await client.delete("/api/catalog/entities/by-uid/unknown", headers=json_type)
        assert response.status_code == 204
