"""The `catalog-collator` module of the search plugin."""

from __future__ import annotations

import httpx
from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.tls import client_ssl_context
from backstage_plugin_catalog_node import CatalogClient
from backstage_plugin_search_node import SearchIndexRegistry

from backstage_plugin_search_backend.catalog._collator import (
    CatalogCollatorFactory,
    read_catalog_collator_settings,
)

__all__ = ["search_module_catalog_collator"]

_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def _register(env: ModuleRegistrationPoints) -> None:
    async def init(
        config: core.RootConfig,
        discovery: core.Discovery,
        auth: core.Auth,
        lifecycle: core.Lifecycle,
        registry: SearchIndexRegistry,
    ) -> None:
        settings = read_catalog_collator_settings(config)
        client = httpx.AsyncClient(verify=client_ssl_context(), timeout=_TIMEOUT)
        lifecycle.add_shutdown_hook(client.aclose)
        catalog = CatalogClient(discovery=discovery, auth=auth, http=client)
        registry.add_collator(
            factory=CatalogCollatorFactory(client=catalog, discovery=discovery, settings=settings),
            schedule=settings.schedule,
        )

    env.register_init(init)


def search_module_catalog_collator() -> BackendModule:
    """Indexes the software catalog (type `software-catalog`), read from the `catalog`
    plugin over HTTP wherever it runs (`search.collators.catalog.*`)."""
    return create_backend_module(
        plugin_id="search", module_id="catalog-collator", register=_register
    )
