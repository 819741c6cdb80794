"""The `github` catalog module: one discovery provider per `catalog.providers.github` block,
subscribed to repository and push events."""

from __future__ import annotations

import functools

import httpx
from backstage_backend_plugin_api import (
    BackendModule,
    CacheService,
    LifecycleService,
    ModuleRegistrationPoints,
    RootConfigService,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import InputError
from backstage_integration import (
    GithubCredentialsProvider,
    GithubIntegrationConfig,
    ScmIntegrations,
)
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


class _GithubAccess:
    """The configured GitHub hosts, one HTTP client closed at shutdown, and the credentials
    each host's calls carry."""

    def __init__(
        self, config: RootConfigService, cache: CacheService, lifecycle: LifecycleService
    ) -> None:
        self.integrations = ScmIntegrations.from_config(config)
        self.client = httpx.AsyncClient(timeout=60)
        lifecycle.add_shutdown_hook(self.client.aclose)
        self.credentials = GithubCredentialsProvider(self.integrations.github, self.client, cache)

    def integration(self, host: str, where: str) -> GithubIntegrationConfig:
        integration = self.integrations.github.by_host(host)
        if integration is None:
            raise InputError(f"{where}: there is no integrations.github entry for {host}")
        return integration

    def api(self, integration: GithubIntegrationConfig) -> GithubApi:
        return GithubApi(integration, self.credentials, self.client)


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
        access = _GithubAccess(config, cache, lifecycle)
        for provider_config in provider_configs:
            integration = access.integration(
                provider_config.host, f"catalog.providers.github.{provider_config.id}.host"
            )
            provider = GithubEntityProvider(
                provider_config,
                access.api(integration),
                scheduler,
                logger,
                functools.partial(
                    app_organizations, access.client, integration, provider_config.app
                ),
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
        access = _GithubAccess(config, cache, lifecycle)
        for definition in definitions:
            integration = access.integration(
                definition.host, f"catalog.providers.githubOrg {definition.id}"
            )
            provider = GithubMultiOrgEntityProvider(
                definition,
                access.api(integration),
                scheduler,
                logger,
                functools.partial(app_organizations, access.client, integration),
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
