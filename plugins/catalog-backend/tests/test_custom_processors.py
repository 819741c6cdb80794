"""A module's processor runs after the built-in ones: it may accept a kind of its own,
change entities and emit relations."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backstage_backend_plugin_api import create_backend_module
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_node import (
    CatalogProcessing,
    CatalogProcessorEmit,
    EntityRelationSpec,
    LocationSpec,
    RelationResult,
)

from ._support import Probe, probe_module

WIDGET = """
apiVersion: example.com/v1
kind: Widget
metadata: {name: gizmo}
spec: {maker: team-a}
"""


class WidgetProcessor:
    name = "widgets"

    async def validate_entity_kind(self, entity: Mapping[str, Any]) -> bool:
        return entity.get("kind") == "Widget"

    async def post_process_entity(
        self, entity: dict[str, Any], location: LocationSpec, emit: CatalogProcessorEmit
    ) -> dict[str, Any]:
        if entity["kind"] == "Widget":
            ref = f"widget:default/{entity['metadata']['name']}"
            target = f"group:default/{entity['spec']['maker']}"
            emit(RelationResult(EntityRelationSpec(ref, "ownedBy", target)))
            entity["metadata"].setdefault("labels", {})["processed-by"] = "widgets"
        return entity


async def test_a_module_processor_handles_its_own_kind(
    database_config: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "widgets.yaml"
    path.write_text(WIDGET)

    def register(env: Any) -> None:
        async def init(processing: CatalogProcessing) -> None:
            processing.add_processor(WidgetProcessor())

        env.register_init(init)

    module = create_backend_module(plugin_id="catalog", module_id="widgets", register=register)
    probe = Probe()
    config = {
        "backend": {"database": database_config},
        "catalog": {
            "locations": [{"type": "file", "target": str(path), "rules": [{"allow": ["Widget"]}]}]
        },
    }
    async with start_test_backend(
        features=[catalog_plugin(), module, probe_module(probe)], config=config
    ) as test:
        await probe.idle()
        response = await test.client.get("/api/catalog/entities")
    [gizmo] = [e for e in response.json() if e["kind"] == "Widget"]
    assert gizmo["metadata"]["labels"] == {"processed-by": "widgets"}
    assert gizmo["relations"] == [{"type": "ownedBy", "targetRef": "group:default/team-a"}]
