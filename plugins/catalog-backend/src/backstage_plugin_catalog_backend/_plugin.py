"""The `catalog` plugin: migrations, the REST API and the processing loop, and its place in
the permission framework."""

from __future__ import annotations

from collections.abc import Sequence
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
from backstage_plugin_permission_node import create_condition_transformer

from backstage_plugin_catalog_backend._catalog import CatalogExtensions, build_catalog
from backstage_plugin_catalog_backend._custom_plans import prefer_custom_plans
from backstage_plugin_catalog_backend.api import entity_routes
from backstage_plugin_catalog_backend.api._entity_cache import entity_cache_from_config
from backstage_plugin_catalog_backend.api._expensive import ExpensiveReads
from backstage_plugin_catalog_backend.api._response_cache import response_cache_from_config
from backstage_plugin_catalog_backend.permissions import (
    CATALOG_ENTITY_RESOURCE_REF,
    CatalogPermissions,
    register_catalog_permissions,
)
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
        http_auth: core.HttpAuth,
        permissions: core.Permissions,
        permissions_registry: core.PermissionsRegistry,
        url_reader: core.UrlReader,
        cache: core.Cache,
    ) -> None:
        await database.migrate(MIGRATIONS)
        engine = await database.get_engine()
        prefer_custom_plans(engine)
        reads = engine.execution_options(isolation_level="AUTOCOMMIT")

        async def entity_texts(refs: Sequence[str]) -> dict[str, str]:
            return await entities.unrestricted_by_refs(refs)

        register_catalog_permissions(permissions_registry, entity_texts)
        # after registering: the ruleset then holds every rule of the resource type
        ruleset = permissions_registry.get_permission_ruleset(CATALOG_ENTITY_RESOURCE_REF)
        transform = create_condition_transformer(ruleset)
        access = CatalogPermissions(permissions, transform)
        entities = EntitiesCatalog(
            database,
            engine,
            reads,
            access,
            entity_cache_from_config(config),
            response_cache_from_config(config),
        )
        router.use(*entity_routes(entities, http_auth, ExpensiveReads.from_config(config)))
        # processing and stitching have connections of their own: under a flood of
        # expensive reads the catalog keeps ingesting, and they never queue requests
        # (the location and refresh routes stay on the request pool)
        background = await database.get_engine(purpose="background")
        prefer_custom_plans(background)
        catalog = build_catalog(
            config, database, background, logger, extensions, access, http_auth, url_reader, cache
        )
        extensions.catalog = catalog
        router.use(*catalog.routes)
        router.set_openapi_document(openapi_document)
        lifecycle.add_startup_hook(catalog.start)
        lifecycle.add_shutdown_hook(catalog.stop)

    env.register_init(init)


def catalog_plugin() -> BackendPlugin:
    """The software catalog, mounted at `/api/catalog`."""
    return create_backend_plugin(plugin_id=PLUGIN_ID, register=_register)
