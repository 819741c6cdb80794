"""An entity deleted while it is being processed: its result is dropped, the rest of its
batch is written, and nothing of it comes back."""

from __future__ import annotations

import asyncio
from typing import Any

from backstage_backend_plugin_api import create_backend_module
from backstage_backend_test_utils import CapturingLogger, mock_services, start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_node import CatalogProcessing, CatalogProcessorEmit, LocationSpec

from ._support import Probe, probe_module, serve_files

COMPONENT = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {{name: {name}}}
spec: {{type: service, lifecycle: production, owner: team-a}}
"""


class HoldingProcessor:
    """Holds the processing of the Location entity of one target until told to go on."""

    name = "holding"

    def __init__(self) -> None:
        self.target = ""
        self.reached = asyncio.Event()
        self.go_on = asyncio.Event()

    async def pre_process_entity(
        self,
        entity: dict[str, Any],
        location: LocationSpec,
        emit: CatalogProcessorEmit,
        origin_location: LocationSpec,
    ) -> dict[str, Any]:
        if entity["kind"] == "Location" and entity["spec"].get("target") == self.target:
            self.reached.set()
            await self.go_on.wait()
        return entity


async def test_a_location_deleted_while_processed_leaves_its_batch_written(
    postgres_config: dict[str, Any],
) -> None:
    holding = HoldingProcessor()

    def register(env: Any) -> None:
        async def init(processing: CatalogProcessing) -> None:
            processing.add_processor(holding)

        env.register_init(init)

    module = create_backend_module(plugin_id="catalog", module_id="holding", register=register)
    logger = CapturingLogger("warn")
    probe = Probe()
    with serve_files() as server:
        port = server.base_url.rsplit(":", 1)[1]
        held = server.put("/repo/a.yaml", COMPONENT.format(name="a"))
        other = server.put("/repo/b.yaml", COMPONENT.format(name="b"))
        holding.target = held
        config = {
            "backend": {
                "database": postgres_config,
                "reading": {"allow": [{"host": f"127.0.0.1:{port}"}]},
            }
        }
        features = [
            catalog_plugin(),
            module,
            probe_module(probe),
            mock_services.root_logger_factory(logger=logger),
            mock_services.logger_factory(),
        ]
        async with start_test_backend(features=features, config=config) as test:
            client = test.client
            created = [
                await client.post("/api/catalog/locations", json={"type": "url", "target": t})
                for t in (held, other)
            ]
            assert [response.status_code for response in created] == [201, 201]
            await asyncio.wait_for(holding.reached.wait(), 60)
            location_id = created[0].json()["location"]["id"]
            deleted = await client.delete(f"/api/catalog/locations/{location_id}")
            assert deleted.status_code == 204
            holding.go_on.set()
            await probe.idle()

            response = await client.get("/api/catalog/entities?filter=kind=component")
            assert [e["metadata"]["name"] for e in response.json()] == ["b"]
            gone = await client.get("/api/catalog/entities/by-name/component/default/a")
            assert gone.status_code == 404
            errors = [entry.message for entry in logger.entries if entry.level == "error"]
            assert errors == []
