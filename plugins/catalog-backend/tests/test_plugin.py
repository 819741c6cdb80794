"""The plugin starts on SQLite and Postgres, migrates, and serves stitched entities."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._tables import final_entities, refresh_state, search
from backstage_plugin_catalog_backend.stitching import search_rows, stitch_entities

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


async def test_stitching_again_leaves_exactly_the_new_search_rows(
    database_config: dict[str, Any],
) -> None:
    """A changed entity stitched again: its final entity and its search rows are those of
    the new version, none of the old one's left (Postgres applies only the difference)."""
    async with start_test_backend(
        features=[catalog_plugin()], config={"backend": {"database": database_config}}
    ) as test:
        database = await test.backend.get_service(core.database, "catalog")
        engine = await database.get_engine()
        [ref] = await seed_processed(engine, [COMPONENT])
        changed = copy.deepcopy(COMPONENT)
        changed["metadata"]["tags"] = ["kotlin"]
        changed["metadata"]["title"] = None
        changed["spec"]["lifecycle"] = "deprecated"
        async with engine.begin() as connection:
            await connection.execute(
                sa.update(refresh_state)
                .where(refresh_state.c.entity_ref == ref)
                .values(processed_entity=msgspec.json.encode(changed).decode())
            )
            assert await stitch_entities(connection, [ref]) == [ref]
        async with engine.connect() as connection:
            final = (await connection.execute(sa.select(final_entities.c.final_entity))).scalar()
            stored = {
                (key, value, original)
                for key, value, original in await connection.execute(
                    sa.select(search.c.key, search.c.value, search.c.original_value)
                )
            }
        assert final is not None
        assert stored == set(search_rows(msgspec.json.decode(final)))
        assert ("spec.lifecycle", "deprecated", "deprecated") in stored
        assert not any(key == "metadata.tags" and value == "java" for key, value, _ in stored)
