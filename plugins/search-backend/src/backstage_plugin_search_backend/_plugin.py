"""The `search` plugin: the engine, the indexing tasks and `GET /query`."""

from __future__ import annotations

from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_plugin_search_node import (
    search_engine_registry_extension_point,
    search_index_registry_extension_point,
)

from backstage_plugin_search_backend._authorized import AuthorizedSearch
from backstage_plugin_search_backend._engines import PLUGIN_ID, EngineRegistry, create_engine
from backstage_plugin_search_backend._indexing import IndexRegistry, SearchIndexService
from backstage_plugin_search_backend._router import search_routes
from backstage_plugin_search_backend._settings import read_search_settings
from backstage_plugin_search_backend.schema import openapi_document

__all__ = ["search_plugin"]


def _register(env: PluginRegistrationPoints) -> None:
    index_registry = IndexRegistry()
    engine_registry = EngineRegistry()
    env.register_extension_point(search_index_registry_extension_point, index_registry)
    env.register_extension_point(search_engine_registry_extension_point, engine_registry)

    async def init(
        config: core.RootConfig,
        logger: core.Logger,
        database: core.Database,
        scheduler: core.Scheduler,
        router: core.HttpRouter,
        http_auth: core.HttpAuth,
        permissions: core.Permissions,
    ) -> None:
        settings = read_search_settings(config)
        engine = engine_registry.engine or await create_engine(settings, config, database, logger)
        service = SearchIndexService(
            engine=engine, registry=index_registry, scheduler=scheduler, logger=logger
        )
        search = AuthorizedSearch(
            engine, service.visibility_permissions, permissions, settings.query_latency_budget_s
        )
        router.use(*search_routes(search, service.document_types, settings, logger, http_auth))
        router.set_openapi_document(openapi_document())
        await service.start()

    env.register_init(init)


def search_plugin() -> BackendPlugin:
    """Search, mounted at `/api/search`; add collator modules (e.g. the catalog's) beside it."""
    return create_backend_plugin(plugin_id=PLUGIN_ID, register=_register)
