"""Entity providers added by a module, config file locations, rules and annotations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from backstage_backend_plugin_api import create_backend_module
from backstage_backend_test_utils import start_test_backend
from backstage_common.errors import InputError
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._tables import refresh_state
from backstage_plugin_catalog_node import (
    CatalogProcessing,
    DeferredEntity,
    DeltaMutation,
    EntityProviderConnection,
    FullMutation,
    RemovedEntityRef,
)

from ._support import Probe, probe_module


def component(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": name,
            "annotations": {
                "backstage.io/managed-by-location": "url:https://example.com/x.yaml",
                "backstage.io/managed-by-origin-location": "url:https://example.com/x.yaml",
            },
        },
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a", **spec},
    }


class StaticProvider:
    name = "static-test"

    def __init__(self) -> None:
        self.connection: EntityProviderConnection | None = None

    async def connect(self, connection: EntityProviderConnection) -> None:
        self.connection = connection


async def names(test: Any) -> list[str]:
    response = await test.client.get("/api/catalog/entities")
    assert response.status_code == 200
    return sorted(entity["metadata"]["name"] for entity in response.json())


async def test_a_module_provider_adds_and_removes_entities(
    database_config: dict[str, Any],
) -> None:
    provider = StaticProvider()
    probe = Probe()

    def register(env: Any) -> None:
        async def init(processing: CatalogProcessing) -> None:
            processing.add_entity_provider(provider)

        env.register_init(init)

    module = create_backend_module(plugin_id="catalog", module_id="static", register=register)
    config = {"backend": {"database": database_config}}
    features = [catalog_plugin(), module, probe_module(probe)]
    async with start_test_backend(features=features, config=config) as test:
        assert provider.connection is not None
        await provider.connection.apply_mutation(
            FullMutation([DeferredEntity(component("a")), DeferredEntity(component("b"))])
        )
        await probe.idle()
        assert await names(test) == ["a", "b"]
        response = await test.client.get("/api/catalog/entities")
        [first, _] = sorted(response.json(), key=lambda e: e["metadata"]["name"])
        assert first["relations"] == [{"type": "ownedBy", "targetRef": "group:default/team-a"}]
        uid = first["metadata"]["uid"]

        await provider.connection.apply_mutation(FullMutation([DeferredEntity(component("a"))]))
        await probe.idle()
        assert await names(test) == ["a"]

        await provider.connection.apply_mutation(
            DeltaMutation(added=[DeferredEntity(component("c"))])
        )
        await probe.idle()
        assert await names(test) == ["a", "c"]
        response = await test.client.get("/api/catalog/entities")
        assert {e["metadata"]["uid"] for e in response.json()} >= {uid}

        await provider.connection.apply_mutation(
            DeltaMutation(removed=[RemovedEntityRef("component:default/a")])
        )
        await probe.idle()
        assert await names(test) == ["c"]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


ORG = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: jane}
spec: {memberOf: [team-a]}
"""

SERVICE = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: petstore}
spec: {type: service, lifecycle: production, owner: team-a}
"""


async def test_config_file_locations_with_rules_and_broken_files(
    database_config: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "catalog" / "org.yaml", ORG)
    write(tmp_path / "catalog" / "service.yaml", SERVICE)
    write(
        tmp_path / "catalog" / "all.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata: {name: all}\n"
        "spec: {targets: [./service.yaml, ./broken.yaml]}\n",
    )
    write(tmp_path / "catalog" / "broken.yaml", SERVICE.replace("petstore", "other"))
    probe = Probe()
    config = {
        "backend": {"database": database_config},
        "catalog": {
            "locations": [
                # relative to the working directory, allowed to hold Groups and Users
                {
                    "type": "file",
                    "target": "catalog/org.yaml",
                    "rules": [{"allow": ["Group", "User"]}],
                },
                {"type": "file", "target": "catalog/all.yaml"},
                # not allowed to hold Users (default rules)
                {"type": "file", "target": str(tmp_path / "catalog" / "org2.yaml")},
            ]
        },
    }
    write(
        tmp_path / "catalog" / "org2.yaml", ORG.replace("team-a", "team-b").replace("jane", "joe")
    )
    async with start_test_backend(
        features=[catalog_plugin(), probe_module(probe)], config=config
    ) as test:
        await probe.idle()
        response = await test.client.get("/api/catalog/entities")
        assert "other" in {e["metadata"]["name"] for e in response.json()}
        # break a file and refresh the location that reads it
        write(tmp_path / "catalog" / "broken.yaml", "kind: [unclosed\n")
        response = await test.client.post(
            "/api/catalog/refresh", json={"entityRef": "location:default/all"}
        )
        assert (response.status_code, response.content) == (200, b"")
        await probe.idle()
        response = await test.client.get("/api/catalog/entities")
        entities = {e["metadata"]["name"]: e for e in response.json()}
        missing = await test.client.post(
            "/api/catalog/refresh", json={"entityRef": "component:default/nope"}
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["name"] == "NotFoundError"
    # the entities read before stay as they were
    assert {"team-a", "jane", "petstore", "other", "all"} <= set(entities)
    assert "joe" not in entities
    assert "team-b" not in entities
    jane = entities["jane"]
    org_file = str(tmp_path / "catalog" / "org.yaml")
    assert jane["metadata"]["annotations"]["backstage.io/managed-by-location"] == f"file:{org_file}"
    assert (
        jane["metadata"]["annotations"]["backstage.io/managed-by-origin-location"]
        == f"file:{org_file}"
    )
    assert {"type": "memberOf", "targetRef": "group:default/team-a"} in jane["relations"]
    assert {"type": "hasMember", "targetRef": "user:default/jane"} in entities["team-a"][
        "relations"
    ]

    # the broken file shows up in the status of the Location entity that read it
    [all_location] = [
        e for e in entities.values() if e["kind"] == "Location" and e["metadata"]["name"] == "all"
    ]
    [item] = all_location["status"]["items"]
    assert item["type"] == "backstage.io/catalog-processing"
    assert item["message"].startswith("InputError: YAML error at file:")
    assert "line 2, column 1" in item["message"]
    # the location of the disallowed file records Backstage's rule error
    org2 = next(
        e
        for e in entities.values()
        if e["kind"] == "Location" and e["spec"].get("target", "").endswith("org2.yaml")
    )
    [refused] = org2["status"]["items"]
    assert refused["message"].startswith("NotAllowedError: Entity ")
    assert "is not of an allowed kind for that location" in refused["message"]


async def test_provider_input_checks_unchanged_entities_and_refresh_keys(
    database_config: dict[str, Any], tmp_path: Path
) -> None:
    provider = StaticProvider()
    probe = Probe()

    def register(env: Any) -> None:
        async def init(processing: CatalogProcessing) -> None:
            processing.add_entity_provider(provider)

        env.register_init(init)

    path = write(tmp_path / "catalog.yaml", SERVICE)
    module = create_backend_module(plugin_id="catalog", module_id="static", register=register)
    config = {
        "backend": {"database": database_config},
        "catalog": {"locations": [{"type": "file", "target": str(path)}]},
    }
    async with start_test_backend(
        features=[catalog_plugin(), module, probe_module(probe)], config=config
    ) as test:
        assert provider.connection is not None
        with pytest.raises(InputError, match="Malformed entity envelope"):
            await provider.connection.apply_mutation(
                FullMutation([DeferredEntity({"kind": "Component", "metadata": {}})])
            )
        await provider.connection.apply_mutation(FullMutation([DeferredEntity(component("a"))]))
        await probe.idle()
        processing = probe.catalog.processing

        async def next_updates() -> dict[str, Any]:
            async with processing.transaction() as connection:
                rows = await connection.execute(
                    sa.select(refresh_state.c.entity_ref, refresh_state.c.next_update_at)
                )
                return dict(rows.all())

        before = await next_updates()
        # the same entity again is not rescheduled (its unprocessed hash is unchanged)
        await provider.connection.apply_mutation(FullMutation([DeferredEntity(component("a"))]))
        assert await next_updates() == before

        # a refresh key makes the location that registered it read its file again
        write(path, SERVICE.replace("petstore", "renamed"))
        await provider.connection.refresh([f"file:{path}"])
        await probe.idle()
        current = await names(test)
        assert "renamed" in current
        assert "petstore" not in current
        assert "a" in current


@pytest.mark.parametrize("strategy", ["delete", "keep"])
async def test_entities_of_uninstalled_providers(
    database_config: dict[str, Any], tmp_path: Path, strategy: str
) -> None:
    if database_config["client"] != "pg":  # a database that outlives one backend
        database_config = {"client": "better-sqlite3", "connection": {"directory": str(tmp_path)}}
    provider = StaticProvider()

    def register(env: Any) -> None:
        async def init(processing: CatalogProcessing) -> None:
            processing.add_entity_provider(provider)

        env.register_init(init)

    module = create_backend_module(plugin_id="catalog", module_id="static", register=register)
    config = {
        "backend": {"database": database_config},
        "catalog": {"orphanProviderStrategy": strategy},
    }
    probe = Probe()
    async with start_test_backend(
        features=[catalog_plugin(), module, probe_module(probe)], config=config
    ) as test:
        assert provider.connection is not None
        await provider.connection.apply_mutation(FullMutation([DeferredEntity(component("a"))]))
        await probe.idle()
        assert await names(test) == ["a"]
    probe = Probe()
    async with start_test_backend(
        features=[catalog_plugin(), probe_module(probe)], config=config
    ) as test:
        await probe.idle()
        assert await names(test) == ([] if strategy == "delete" else ["a"])
