"""The location endpoints, refresh, validate-entity and analyze-location over real HTTP."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import msgspec
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin

from ._support import Probe, probe_module, serve_files

ROOT = """
apiVersion: backstage.io/v1alpha1
kind: Location
metadata: {name: root}
spec: {targets: [./service.yaml]}
"""
SERVICE = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: petstore}
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: petstore-api}
spec: {type: openapi, lifecycle: production, owner: team-a, definition: openapi}
"""


def generated_ref(target: str) -> str:
    digest = hashlib.sha1(f"url:{target}".encode()).hexdigest()
    return f"location:default/generated-{digest}"


async def names(test: Any) -> list[str]:
    response = await test.client.get("/api/catalog/entities")
    return sorted(e["metadata"]["name"] for e in response.json())


async def test_register_list_update_and_delete_locations(database_config: dict[str, Any]) -> None:
    probe = Probe()
    with serve_files() as server:
        port = server.base_url.rsplit(":", 1)[1]
        root = server.put("/repo/catalog-info.yaml", ROOT)
        server.put("/repo/service.yaml", SERVICE)
        config = {
            "backend": {
                "database": database_config,
                "reading": {"allow": [{"host": f"127.0.0.1:{port}"}]},
            }
        }
        async with start_test_backend(
            features=[catalog_plugin(), probe_module(probe)], config=config
        ) as test:
            client = test.client
            dry = await client.post(
                "/api/catalog/locations?dryRun=true", json={"type": "url", "target": root}
            )
            assert dry.status_code == 201, dry.text
            body = dry.json()
            assert body["exists"] is False
            assert body["location"] == {
                "type": "url",
                "target": root,
                "id": f"url:{root}",
                "entityRef": generated_ref(root),
            }
            assert sorted(e["metadata"]["name"] for e in body["entities"]) == sorted(
                [generated_ref(root).split("/")[1], "root", "petstore", "petstore-api"]
            )
            assert await names(test) == []  # a dry run writes nothing
            assert (await client.get("/api/catalog/locations")).json() == []

            created = await client.post(
                "/api/catalog/locations", json={"type": "url", "target": root}
            )
            assert created.status_code == 201
            location = created.json()["location"]
            assert created.json()["entities"] == []
            assert location["entityRef"] == generated_ref(root)
            duplicate = await client.post(
                "/api/catalog/locations", json={"type": "url", "target": root}
            )
            assert duplicate.status_code == 409
            assert duplicate.json()["error"]["message"] == f"Location url:{root} already exists"
            again = await client.post(
                "/api/catalog/locations?onConflict=refresh", json={"type": "url", "target": root}
            )
            assert (again.status_code, again.json()["location"]) == (201, location)
            bad_type = await client.post(
                "/api/catalog/locations", json={"type": "file", "target": "/etc/x.yaml"}
            )
            assert bad_type.status_code == 400
            assert bad_type.json()["error"]["message"] == (
                'Registered locations must be of an allowed type ["url"]'
            )
            no_type = await client.post(
                "/api/catalog/locations", content=b"{}", headers={"content-type": "text/plain"}
            )
            assert no_type.status_code == 400

            await probe.idle()
            assert await names(test) == sorted(
                [generated_ref(root).split("/")[1], "petstore", "petstore-api", "root"]
            )
            listed = (await client.get("/api/catalog/locations")).json()
            assert listed == [{"data": location}]
            one = await client.get(f"/api/catalog/locations/{location['id']}")
            assert one.json() == location
            missing = await client.get("/api/catalog/locations/nope")
            assert missing.status_code == 404
            assert missing.json()["error"]["message"] == "Found no location with ID nope"
            by_entity = await client.get(
                "/api/catalog/locations/by-entity/component/default/petstore"
            )
            assert by_entity.json() == location
            queried = await client.post(
                "/api/catalog/locations/by-query",
                json={"query": {"type": "URL", "target": {"$in": [root]}}, "limit": 1},
            )
            assert queried.status_code == 200
            assert queried.json() == {"items": [location], "totalItems": 1, "pageInfo": {}}
            bad_query = await client.post(
                "/api/catalog/locations/by-query", json={"query": {"color": "red"}}
            )
            assert bad_query.status_code == 400

            # moving the location to another file: the old subtree goes, the new one comes;
            # the location keeps its entityRef, and its entity now stands for the new file
            # (as in Backstage)
            other = server.put("/repo/other.yaml", SERVICE.replace("petstore", "shop"))
            moved = await client.put(
                f"/api/catalog/locations/{location['id']}", json={"type": "url", "target": other}
            )
            assert moved.status_code == 200
            assert moved.json() == {**location, "target": other}
            assert moved.json()["entityRef"] == generated_ref(root) != generated_ref(other)
            await probe.idle()
            assert await names(test) == sorted(
                [generated_ref(root).split("/")[1], "shop", "shop-api"]
            )
            assert (await client.get(f"/api/catalog/locations/{location['id']}")).json() == (
                moved.json()
            )
            entity = await client.get(
                "/api/catalog/entities/by-name/location/default/"
                + generated_ref(root).split("/")[1]
            )
            assert entity.json()["spec"]["target"] == other
            by_ref = await client.post(
                "/api/catalog/locations/by-query",
                json={"query": {"entityRef": generated_ref(root)}},
            )
            assert by_ref.json()["items"] == [moved.json()]

            deleted = await client.delete(f"/api/catalog/locations/{location['id']}")
            assert deleted.status_code == 204
            await probe.idle()
            assert await names(test) == []
            assert (
                await client.delete(f"/api/catalog/locations/{location['id']}")
            ).status_code == 404


async def test_locations_by_query_pages_with_cursors(database_config: dict[str, Any]) -> None:
    config = {"backend": {"database": database_config}, "catalog": {"processingInterval": False}}
    async with start_test_backend(features=[catalog_plugin()], config=config) as test:
        for index in range(3):
            target = f"https://example.com/{index}.yaml"
            response = await test.client.post(
                "/api/catalog/locations", json={"type": "url", "target": target}
            )
            assert response.status_code == 201
        first = (
            await test.client.post("/api/catalog/locations/by-query", json={"limit": 2})
        ).json()
        assert (len(first["items"]), first["totalItems"]) == (2, 3)
        cursor = first["pageInfo"]["nextCursor"]
        assert msgspec.json.decode(base64.b64decode(cursor))["limit"] == 2
        second = (
            await test.client.post("/api/catalog/locations/by-query", json={"cursor": cursor})
        ).json()
        assert len(second["items"]) == 1
        assert second["pageInfo"] == {}
        ids = [item["id"] for item in first["items"] + second["items"]]
        assert ids == sorted(ids)


async def test_readonly_blocks_location_writes(database_config: dict[str, Any]) -> None:
    config = {"backend": {"database": database_config}, "catalog": {"readonly": True}}
    async with start_test_backend(features=[catalog_plugin()], config=config) as test:
        response = await test.client.post(
            "/api/catalog/locations", json={"type": "url", "target": "https://example.com/a.yaml"}
        )
        assert response.status_code == 403
        assert response.json()["error"] == {
            "name": "NotAllowedError",
            "message": "This operation not allowed in readonly mode",
        }
        assert (await test.client.delete("/api/catalog/locations/x")).status_code == 403


async def test_validate_entity_and_analyze_location(database_config: dict[str, Any]) -> None:
    config = {"backend": {"database": database_config}}
    entity = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "petstore"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
    async with start_test_backend(features=[catalog_plugin()], config=config) as test:
        client = test.client
        valid = await client.post(
            "/api/catalog/validate-entity",
            json={"entity": entity, "location": "url:https://example.com/catalog-info.yaml"},
        )
        assert (valid.status_code, valid.content) == (200, b"")
        broken = {**entity, "spec": {"type": "service"}}
        invalid = await client.post(
            "/api/catalog/validate-entity",
            json={"entity": broken, "location": "url:https://example.com/catalog-info.yaml"},
        )
        assert invalid.status_code == 400
        [error] = invalid.json()["errors"]
        assert error["name"] == "EntityValidationError"
        assert "lifecycle" in error["message"]
        wrong_location = await client.post(
            "/api/catalog/validate-entity", json={"entity": entity, "location": "file:/x.yaml"}
        )
        assert wrong_location.status_code == 400
        assert wrong_location.json()["errors"][0]["message"].startswith("Invalid location ref")

        analyzed = await client.post(
            "/api/catalog/analyze-location",
            json={"location": {"type": "url", "target": "https://github.com/acme/shop"}},
        )
        assert analyzed.status_code == 200
        assert analyzed.json() == {
            "existingEntityFiles": [],
            "generateEntities": [
                {
                    "entity": {
                        "apiVersion": "backstage.io/v1alpha1",
                        "kind": "Component",
                        "metadata": {
                            "name": "shop",
                            "annotations": {"github.com/project-slug": "acme/shop"},
                        },
                        "spec": {"type": "other", "lifecycle": "unknown"},
                    },
                    "fields": [],
                }
            ],
        }
        not_url = await client.post(
            "/api/catalog/analyze-location", json={"location": {"type": "url", "target": "x"}}
        )
        assert not_url.status_code == 400
        assert not_url.json()["error"]["message"] == "The given location.target is not a URL"


async def test_dry_run_errors_and_update_conflicts(database_config: dict[str, Any]) -> None:
    with serve_files() as server:
        port = server.base_url.rsplit(":", 1)[1]
        server.put("/repo/service.yaml", SERVICE)
        server.put("/repo/copy.yaml", SERVICE)
        twice = server.put(
            "/repo/twice.yaml", ROOT.replace("./service.yaml", "./service.yaml, ./copy.yaml")
        )
        broken = server.put("/repo/broken.yaml", "kind: [\n")
        config = {
            "backend": {
                "database": database_config,
                "reading": {"allow": [{"host": f"127.0.0.1:{port}"}]},
            },
            "catalog": {"processingInterval": False},
        }
        async with start_test_backend(features=[catalog_plugin()], config=config) as test:
            client = test.client
            duplicate = await client.post(
                "/api/catalog/locations?dryRun=true", json={"type": "url", "target": twice}
            )
            assert duplicate.status_code == 400
            assert duplicate.json()["error"]["message"] == (
                "Duplicate nested entity: component:default/petstore"
            )
            failing = await client.post(
                "/api/catalog/locations?dryRun=true", json={"type": "url", "target": broken}
            )
            assert failing.status_code == 400
            assert "YAML error at url:" in failing.json()["error"]["message"]
            first = await client.post(
                "/api/catalog/locations", json={"type": "url", "target": twice}
            )
            second = await client.post(
                "/api/catalog/locations", json={"type": "url", "target": broken}
            )
            clash = await client.put(
                f"/api/catalog/locations/{second.json()['location']['id']}",
                json={"type": "url", "target": first.json()["location"]["target"]},
            )
            assert clash.status_code == 409
            missing = await client.put(
                "/api/catalog/locations/nope", json={"type": "url", "target": twice}
            )
            assert missing.status_code == 404
