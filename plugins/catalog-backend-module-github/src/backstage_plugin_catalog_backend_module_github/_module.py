"""The `github` catalog module: one discovery provider per `catalog.providers.github` block,
subscribed to repository and push events."""

from __future__ import annotations

import functools

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
from backstage_plugin_catalog_backend_module_github._installations import app_organizations
from backstage_plugin_catalog_backend_module_github._org_config import read_github_org_configs
from backstage_plugin_catalog_backend_module_github._org_provider import (
    ORG_TOPICS,
    GithubMultiOrgEntityProvider,
    GithubOrgEntityCleanerProvider,
)

__all__ = ["catalog_module_github_entity_provider", "catalog_module_github_org_entity_provider"]

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
                provider_config,
                GithubApi(integration, credentials, client),
                scheduler,
                logger,
                functools.partial(app_organizations, client, integration, provider_config.app),
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


def _register_org(env: ModuleRegistrationPoints) -> None:
    async def init(
        config: core.RootConfig,
        logger: core.Logger,
        scheduler: core.Scheduler,
        cache: core.Cache,
        lifecycle: core.Lifecycle,
        processing: CatalogProcessing,
        events: Events,
    ) -> None:
        definitions = read_github_org_configs(config)
        if not definitions:
            return
        integrations = ScmIntegrations.from_config(config)
        client = httpx.AsyncClient(timeout=60)
        lifecycle.add_shutdown_hook(client.aclose)
        credentials = GithubCredentialsProvider(integrations.github, client, cache)
        for definition in definitions:
            integration = integrations.github.by_host(definition.host)
            if integration is None:
                raise InputError(
                    f"catalog.providers.githubOrg {definition.id}: there is no "
                    f"integrations.github entry for {definition.host}"
                )
            provider = GithubMultiOrgEntityProvider(
                definition,
                GithubApi(integration, credentials, client),
                scheduler,
                logger,
                functools.partial(app_organizations, client, integration),
            )
            processing.add_entity_provider(GithubOrgEntityCleanerProvider(definition.id), provider)
            await events.subscribe(id=provider.name, topics=ORG_TOPICS, on_event=provider.on_event)

    env.register_init(init)


def catalog_module_github_org_entity_provider() -> BackendModule:
    """GitHub users and teams: each `catalog.providers.githubOrg` definition (`id`,
    `githubUrl`, `orgs`, `schedule`, `pageSizes`) reads the organisations' members and
    teams through GraphQL as Users and Groups with their memberships; organisation, team
    and membership webhooks read them again at once."""
    return create_backend_module(
        plugin_id="catalog", module_id="github-org-entity-provider", register=_register_org
    )
