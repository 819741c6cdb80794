"""The plugin starts on SQLite and Postgres, migrates, and serves stitched entities."""

from __future__ import annotations

from typing import Any

from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin

from .conftest import seed_processed

COMPONENT = {
    "apiVersion": "backstage.io/v1alpha1",
    "kind": "Component",
    "metadata": {"name": "petstore", "tags": ["java", "Web"], "annotations": {"a/b": "c"}},
    "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    "relations": [{"type": "ownedBy", "targetRef": "group:default/team-a"}],
}


async def test_stitched_entities_are_served(database_config: dict[str, Any]) -> None:
    config = {"backend": {"database": database_config}}
    async with start_test_backend(features=[catalog_plugin()], config=config) as test:
        database = await test.backend.get_service(core.database, "catalog")
        await seed_processed(await database.get_engine(), [COMPONENT])
        response = await test.client.get("/api/catalog/entities")
    assert response.status_code == 200
    [entity] = response.json()
    assert entity["metadata"]["name"] == "petstore"
    assert entity["relations"] == [{"type": "ownedBy", "targetRef": "group:default/team-a"}]
    assert entity["metadata"]["etag"]
