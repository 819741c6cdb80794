"""The `gitlab-discovery-entity-provider` catalog module."""

from __future__ import annotations

import httpx
from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import InputError
from backstage_common.tls import client_ssl_context
from backstage_integration import ScmIntegrations
from backstage_plugin_catalog_node import CatalogProcessing
from backstage_plugin_events_node import Events

from backstage_plugin_catalog_backend_module_gitlab._config import (
    read_gitlab_discovery_configs,
)
from backstage_plugin_catalog_backend_module_gitlab._gitlab_api import GitlabApi
from backstage_plugin_catalog_backend_module_gitlab._provider import (
    GitlabDiscoveryEntityProvider,
)

__all__ = ["catalog_module_gitlab_discovery_entity_provider"]


def _register(env: ModuleRegistrationPoints) -> None:
    async def init(
        config: core.RootConfig,
        logger: core.Logger,
        scheduler: core.Scheduler,
        lifecycle: core.Lifecycle,
        processing: CatalogProcessing,
        events: Events,
    ) -> None:
        provider_configs = read_gitlab_discovery_configs(config)
        if not provider_configs:
            return
        integrations = ScmIntegrations.from_config(config)
        client = httpx.AsyncClient(verify=client_ssl_context(), timeout=60)
        lifecycle.add_shutdown_hook(client.aclose)
        for provider_config in provider_configs:
            integration = integrations.gitlab.by_host(provider_config.host)
            if integration is None:
                raise InputError(
                    f"catalog.providers.gitlab.{provider_config.id}.host: there is no "
                    f"integrations.gitlab entry for {provider_config.host}"
                )
            provider = GitlabDiscoveryEntityProvider(
                provider_config, GitlabApi(integration, client), scheduler, logger
            )
            processing.add_entity_provider(provider)
            await events.subscribe(
                id=provider.name, topics=["gitlab.push"], on_event=provider.on_event
            )

    env.register_init(init)


def catalog_module_gitlab_discovery_entity_provider() -> BackendModule:
    """GitLab discovery: each `catalog.providers.gitlab.<id>` block (`host`, `group`,
    `branch`, `entityFilename`, patterns and filters, `schedule`) lists the projects and
    emits a Location for each project with the catalog file; `gitlab.push` events update
    that set at once."""
    return create_backend_module(
        plugin_id="catalog", module_id="gitlab-discovery-entity-provider", register=_register
    )
