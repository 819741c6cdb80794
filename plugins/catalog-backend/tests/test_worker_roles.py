"""`backend.worker.role`: a serving catalog runs no processing loop and connects no
provider; what is registered through it is processed by a catalog that runs background
work on the same database, which its notification wakes at once."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from backstage_backend_plugin_api import BackendModule, create_backend_module
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_node import CatalogProcessing

from ._support import Probe, probe_module, serve_files
from .test_processing_providers import StaticProvider

COMPONENT = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: registered-through-serve}
spec: {type: service, lifecycle: production, owner: team-a}
"""


async def test_a_serving_catalog_leaves_processing_to_the_background_one(
    postgres_config: dict[str, Any],
) -> None:
    providers = {"serve": StaticProvider(), "background": StaticProvider()}
    probes = {"serve": Probe(), "background": Probe()}

    def provider_module(provider: StaticProvider) -> BackendModule:
        def register(env: Any) -> None:
            async def init(processing: CatalogProcessing) -> None:
                processing.add_entity_provider(provider)

            env.register_init(init)

        return create_backend_module(plugin_id="catalog", module_id="static", register=register)

    async with AsyncExitStack() as stack:
        server = stack.enter_context(serve_files())
        target = server.put("/repo/catalog-info.yaml", COMPONENT)
        port = server.base_url.rsplit(":", 1)[1]
        backends = {}
        for role in ("serve", "background"):
            config = {
                "backend": {
                    "database": postgres_config,
                    "reading": {"allow": [{"host": f"127.0.0.1:{port}"}]},
                    "worker": {"role": role},
                },
                "catalog": {"stitchingStrategy": {"pollingInterval": "60s"}},
            }
            features = [
                catalog_plugin(),
                provider_module(providers[role]),
                probe_module(probes[role]),
            ]
            backends[role] = await stack.enter_async_context(
                start_test_backend(features=features, config=config)
            )
        serving = backends["serve"].client
        assert providers["serve"].connection is None
        assert providers["background"].connection is not None
        response = await serving.post(
            "/api/catalog/locations", json={"type": "url", "target": target}
        )
        assert response.status_code == 201, response.text
        path = "/api/catalog/entities/by-name/component/default/registered-through-serve"
        # The background catalog polls once a minute here: within the test's 30 s only the
        # notification of the serving catalog's write wakes it.
        for _ in range(600):
            if (await serving.get(path)).status_code == 200:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the registered location was not processed within 30 s")
        assert not probes["serve"].catalog.processing_started
        assert probes["background"].catalog.processing_started
