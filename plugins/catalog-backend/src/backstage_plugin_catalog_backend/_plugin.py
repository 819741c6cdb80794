"""The `catalog` plugin: migrations, the REST API and the processing loop."""

from __future__ import annotations

from pathlib import Path

from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_plugin_catalog_node import (
    catalog_analysis_extension_point,
    catalog_processing_extension_point,
    catalog_url_readers_extension_point,
)

from backstage_plugin_catalog_backend._catalog import CatalogExtensions, build_catalog
from backstage_plugin_catalog_backend._custom_plans import prefer_custom_plans
from backstage_plugin_catalog_backend.api import entity_routes
from backstage_plugin_catalog_backend.api._expensive import ExpensiveReads
from backstage_plugin_catalog_backend.schema import openapi_document
from backstage_plugin_catalog_backend.service import EntitiesCatalog

__all__ = ["MIGRATIONS", "PLUGIN_ID", "catalog_plugin"]

PLUGIN_ID = "catalog"
MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def _register(env: PluginRegistrationPoints) -> None:
    extensions = CatalogExtensions()
    env.register_extension_point(catalog_processing_extension_point, extensions)
    env.register_extension_point(catalog_analysis_extension_point, extensions)
    env.register_extension_point(catalog_url_readers_extension_point, extensions)

    async def init(
        database: core.Database,
        router: core.HttpRouter,
        config: core.RootConfig,
        logger: core.Logger,
        lifecycle: core.Lifecycle,
    ) -> None:
        await database.migrate(MIGRATIONS)
        engine = await database.get_engine()
        prefer_custom_plans(engine)
        reads = engine.execution_options(isolation_level="AUTOCOMMIT")
        entities = EntitiesCatalog(database, engine, reads)
        router.use(*entity_routes(entities, ExpensiveReads.from_config(config)))
        # processing and stitching have connections of their own: under a flood of
        # expensive reads the catalog keeps ingesting, and they never queue requests
        # (the location and refresh routes stay on the request pool)
        background = await database.get_engine(purpose="background")
        prefer_custom_plans(background)
        catalog = build_catalog(config, database, background, logger, extensions)
        extensions.catalog = catalog
        router.use(*catalog.routes)
        router.set_openapi_document(openapi_document())
        lifecycle.add_startup_hook(catalog.start)
        lifecycle.add_shutdown_hook(catalog.stop)

    env.register_init(init)


def catalog_plugin() -> BackendPlugin:
    """The software catalog, mounted at `/api/catalog`."""
    return create_backend_plugin(plugin_id=PLUGIN_ID, register=_register)
