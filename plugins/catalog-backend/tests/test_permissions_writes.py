"""Every write under a denying policy answers 403 and changes nothing; the location reads
under a denied `catalog.location.read` find nothing; conditional deletes and refreshes
hold only for the entities the conditions match; and the catalog publishes its
permissions and rules and applies conditions for the permission backend."""

from __future__ import annotations

from typing import Any

from backstage_backend_test_utils import mock_credentials

from ._policy import (
    DENY,
    TablePolicy,
    condition,
    conditional,
    table_permissions_factory,
)
from ._support import serve_files
from .sample_catalog import Catalog, started_catalog

MALLORY = "user:default/mallory"
ALICE = "user:default/alice"
SERVICE = mock_credentials.service_header()
DENIED_ALL = {
    name: DENY
    for name in (
        "catalog.entity.read",
        "catalog.entity.delete",
        "catalog.entity.refresh",
        "catalog.entity.validate",
        "catalog.location.read",
        "catalog.location.create",
        "catalog.location.delete",
        "catalog.location.analyze",
    )
}
TEAM_A = conditional(condition("IS_ENTITY_OWNER", claims=["group:default/team-a"]))


def policy() -> TablePolicy:
    return TablePolicy(
        users={
            MALLORY: dict(DENIED_ALL),
            ALICE: {"catalog.entity.delete": TEAM_A, "catalog.entity.refresh": TEAM_A},
        }
    )


async def locations(catalog: Catalog) -> list[dict[str, Any]]:
    response = await catalog.test.client.get("/api/catalog/locations", headers=SERVICE)
    return [item["data"] for item in response.json()]


async def uid_of(catalog: Catalog, ref: str) -> str:
    response = await catalog.test.client.post(
        "/api/catalog/entities/by-refs", json={"entityRefs": [ref]}, headers=SERVICE
    )
    uid: str = response.json()["items"][0]["metadata"]["uid"]
    return uid


def refused(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error"]["name"] == "NotAllowedError"


async def test_denied_writes_change_nothing(database_config: dict[str, Any]) -> None:
    with serve_files() as server:
        port = server.base_url.rsplit(":", 1)[1]
        target = server.put("/a/catalog-info.yaml", "kind: Component")
        other = server.put("/b/catalog-info.yaml", "kind: Component")
        config = {
            "backend": {"reading": {"allow": [{"host": f"127.0.0.1:{port}"}]}},
            "catalog": {"processingInterval": False},
        }
        features = [table_permissions_factory(policy())]
        async with started_catalog(database_config, config=config, features=features) as catalog:
            client = catalog.test.client
            as_mallory = mock_credentials.user_header(MALLORY)
            created = await client.post(
                "/api/catalog/locations", json={"type": "url", "target": target}, headers=SERVICE
            )
            assert created.status_code == 201, created.text
            location = created.json()["location"]
            before_locations = await locations(catalog)
            before_entities = await catalog.stored()

            body = {"type": "url", "target": other}
            refused(await client.post("/api/catalog/locations", json=body, headers=as_mallory))
            dry = "/api/catalog/locations?dryRun=true"
            refused(await client.post(dry, json=body, headers=as_mallory))
            path = f"/api/catalog/locations/{location['id']}"
            refused(await client.put(path, json=body, headers=as_mallory))
            refused(await client.delete(path, headers=as_mallory))
            uid = await uid_of(catalog, "component:default/petstore")
            by_uid = f"/api/catalog/entities/by-uid/{uid}"
            refused(await client.delete(by_uid, headers=as_mallory))
            refresh = {"entityRef": "component:default/petstore"}
            refused(await client.post("/api/catalog/refresh", json=refresh, headers=as_mallory))
            validate = {
                "location": "url:https://example.com/a.yaml",
                "entity": {"apiVersion": "backstage.io/v1alpha1", "kind": "Component"},
            }
            refused(
                await client.post("/api/catalog/validate-entity", json=validate, headers=as_mallory)
            )
            analyze = {"location": {"type": "url", "target": "https://github.com/a/b"}}
            refused(
                await client.post("/api/catalog/analyze-location", json=analyze, headers=as_mallory)
            )

            assert await locations(catalog) == before_locations
            assert await catalog.stored() == before_entities

            # the same writes are allowed to a service (the policy is not asked about it)
            moved = await client.put(path, json=body, headers=SERVICE)
            assert moved.status_code == 200, moved.text
            assert (await client.delete(path, headers=SERVICE)).status_code == 204


async def test_denied_location_reads_find_nothing(database_config: dict[str, Any]) -> None:
    with serve_files() as server:
        port = server.base_url.rsplit(":", 1)[1]
        target = server.put("/a/catalog-info.yaml", "kind: Component")
        config = {
            "backend": {"reading": {"allow": [{"host": f"127.0.0.1:{port}"}]}},
            "catalog": {"processingInterval": False},
        }
        features = [table_permissions_factory(policy())]
        async with started_catalog(database_config, config=config, features=features) as catalog:
            client = catalog.test.client
            as_mallory = mock_credentials.user_header(MALLORY)
            created = await client.post(
                "/api/catalog/locations", json={"type": "url", "target": target}, headers=SERVICE
            )
            location_id = created.json()["location"]["id"]

            assert (await client.get("/api/catalog/locations", headers=as_mallory)).json() == []
            one = await client.get(f"/api/catalog/locations/{location_id}", headers=as_mallory)
            assert one.status_code == 404
            assert one.json()["error"]["message"] == f"Found no location with ID {location_id}"
            query = await client.post(
                "/api/catalog/locations/by-query", json={}, headers=as_mallory
            )
            assert query.json() == {"items": [], "totalItems": 0, "pageInfo": {}}
            by_entity = await client.get(
                "/api/catalog/locations/by-entity/component/default/petstore", headers=as_mallory
            )
            assert by_entity.status_code == 404

            # Alice's policy allows location reads (the table's default)
            as_alice = mock_credentials.user_header(ALICE)
            listed = await client.get("/api/catalog/locations", headers=as_alice)
            assert [item["data"]["id"] for item in listed.json()] == [location_id]


async def test_conditional_delete_and_refresh(database_config: dict[str, Any]) -> None:
    features = [table_permissions_factory(policy())]
    config = {"catalog": {"processingInterval": False}}
    async with started_catalog(database_config, config=config, features=features) as catalog:
        client = catalog.test.client
        as_alice = mock_credentials.user_header(ALICE)
        before = await catalog.stored()

        # team-b's entity does not meet Alice's conditions; a missing uid neither
        website = await uid_of(catalog, "component:default/website")
        refused(await client.delete(f"/api/catalog/entities/by-uid/{website}", headers=as_alice))
        refused(await client.delete("/api/catalog/entities/by-uid/missing", headers=as_alice))
        refresh = "/api/catalog/refresh"
        refused(
            await client.post(
                refresh, json={"entityRef": "component:default/website"}, headers=as_alice
            )
        )
        assert await catalog.stored() == before

        # team-a's entity does: refreshed, then deleted
        allowed = await client.post(
            refresh, json={"entityRef": "Component:petstore"}, headers=as_alice
        )
        assert allowed.status_code == 200, allowed.text
        petstore = await uid_of(catalog, "component:default/petstore")
        deleted = await client.delete(f"/api/catalog/entities/by-uid/{petstore}", headers=as_alice)
        assert deleted.status_code == 204
        remaining = {ref for ref, _, _ in await catalog.stored()}
        assert "component:default/petstore" not in remaining
        assert "component:default/website" in remaining


async def test_metadata_and_apply_conditions(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        client = catalog.test.client
        metadata = await client.get("/api/catalog/.well-known/backstage/permissions/metadata")
        assert metadata.status_code == 200, metadata.text
        body = metadata.json()
        assert len(body["permissions"]) == 11
        assert {
            "type": "resource",
            "name": "catalog.entity.read",
            "attributes": {"action": "read"},
            "resourceType": "catalog-entity",
        } in body["permissions"]
        assert [rule["name"] for rule in body["rules"]] == [
            "HAS_ANNOTATION",
            "HAS_LABEL",
            "HAS_METADATA",
            "HAS_SPEC",
            "IS_ENTITY_KIND",
            "IS_ENTITY_OWNER",
        ]
        assert {rule["resourceType"] for rule in body["rules"]} == {"catalog-entity"}

        owner = {"rule": "IS_ENTITY_OWNER", "resourceType": "catalog-entity"}
        items = [
            {
                "id": "1",
                "resourceType": "catalog-entity",
                "resourceRef": ["component:default/petstore", "component:default/website"],
                "conditions": {**owner, "params": {"claims": ["group:default/team-a"]}},
            },
            {
                "id": "2",
                "resourceType": "catalog-entity",
                # a missing entity is denied
                "resourceRef": "component:default/missing",
                "conditions": {"not": {**owner, "params": {"claims": ["group:default/x"]}}},
            },
        ]
        applied = await client.post(
            "/api/catalog/.well-known/backstage/permissions/apply-conditions",
            json={"items": items},
            headers=mock_credentials.service_header("plugin:permission"),
        )
        assert applied.status_code == 200, applied.text
        assert applied.json() == {
            "items": [{"id": "1", "result": ["ALLOW", "DENY"]}, {"id": "2", "result": "DENY"}]
        }
