"""The `github` catalog module: one discovery provider per `catalog.providers.github` block,
subscribed to repository and push events."""

from __future__ import annotations

import httpx
from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import InputError
from backstage_integration import GithubCredentialsProvider, ScmIntegrations
from backstage_plugin_catalog_node import CatalogProcessing
from backstage_plugin_events_node import Events

from backstage_plugin_catalog_backend_module_github._discovery import (
    GithubEntityProvider,
    read_github_discovery_configs,
)
from backstage_plugin_catalog_backend_module_github._github_api import GithubApi

__all__ = ["catalog_module_github_entity_provider"]

_TOPICS = ["github.push", "github.repository"]


def _register(env: ModuleRegistrationPoints) -> None:
    async def init(
        config: core.RootConfig,
        logger: core.Logger,
        scheduler: core.Scheduler,
        cache: core.Cache,
        lifecycle: core.Lifecycle,
        processing: CatalogProcessing,
        events: Events,
    ) -> None:
        provider_configs = read_github_discovery_configs(config)
        if not provider_configs:
            return
        integrations = ScmIntegrations.from_config(config)
        client = httpx.AsyncClient(timeout=60)
        lifecycle.add_shutdown_hook(client.aclose)
        credentials = GithubCredentialsProvider(integrations.github, client, cache)
        for provider_config in provider_configs:
            integration = integrations.github.by_host(provider_config.host)
            if integration is None:
                raise InputError(
                    f"catalog.providers.github.{provider_config.id}.host: there is no "
                    f"integrations.github entry for {provider_config.host}"
                )
            provider = GithubEntityProvider(
                provider_config, GithubApi(integration, credentials, client), scheduler, logger
            )
            processing.add_entity_provider(provider)
            await events.subscribe(id=provider.name, topics=_TOPICS, on_event=provider.on_event)

    env.register_init(init)


def catalog_module_github_entity_provider() -> BackendModule:
    """GitHub discovery: `catalog.providers.github.<id>` (`organization`, `host`,
    `catalogPath`, `filters`, `schedule`) lists the organisation's repositories and emits a
    Location for each repository that passes the filters; `github.push` and
    `github.repository` events update that set at once."""
    return create_backend_module(plugin_id="catalog", module_id="github", register=_register)
