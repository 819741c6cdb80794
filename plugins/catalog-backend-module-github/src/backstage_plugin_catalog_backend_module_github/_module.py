"""The `github` catalog module: one discovery provider per `catalog.providers.github` block,
subscribed to repository and push events."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TypeVar

import httpx
from backstage_backend_plugin_api import (
    BackendModule,
    CacheService,
    LifecycleService,
    LoggerService,
    ModuleRegistrationPoints,
    RootConfigService,
    SchedulerService,
    create_backend_module,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import InputError
from backstage_common.tls import client_ssl_context
from backstage_integration import (
    GithubCredentialsProvider,
    GithubIntegrationConfig,
    ScmIntegrations,
)
from backstage_plugin_catalog_node import CatalogProcessing, EntityProvider
from backstage_plugin_events_node import Events

from backstage_plugin_catalog_backend_module_github._discovery import (
    GithubDiscoveryConfig,
    GithubEntityProvider,
    read_github_discovery_configs,
)
from backstage_plugin_catalog_backend_module_github._github_api import GithubApi
from backstage_plugin_catalog_backend_module_github._installations import app_organizations
from backstage_plugin_catalog_backend_module_github._org_config import (
    GithubOrgConfig,
    read_github_org_configs,
)
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
        self.client = httpx.AsyncClient(verify=client_ssl_context(), timeout=60)
        lifecycle.add_shutdown_hook(self.client.aclose)
        self.credentials = GithubCredentialsProvider(self.integrations.github, self.client, cache)

    def integration(self, host: str, where: str) -> GithubIntegrationConfig:
        integration = self.integrations.github.by_host(host)
        if integration is None:
            raise InputError(f"{where}: there is no integrations.github entry for {host}")
        return integration

    def api(self, integration: GithubIntegrationConfig) -> GithubApi:
        return GithubApi(integration, self.credentials, self.client)


_Subscribed = GithubEntityProvider | GithubMultiOrgEntityProvider
_Definition = TypeVar("_Definition", GithubDiscoveryConfig, GithubOrgConfig)


def _registration(
    read_definitions: Callable[[RootConfigService], Sequence[_Definition]],
    build: Callable[
        [_Definition, _GithubAccess, SchedulerService, LoggerService],
        tuple[Sequence[EntityProvider], _Subscribed],
    ],
    topics: list[str],
) -> Callable[[ModuleRegistrationPoints], None]:
    """What both modules register: per definition, the providers `build` makes (the one
    subscribed to `topics` last), on one HTTP client made only when a definition exists."""

    def register(env: ModuleRegistrationPoints) -> None:
        async def init(
            config: core.RootConfig,
            logger: core.Logger,
            scheduler: core.Scheduler,
            cache: core.Cache,
            lifecycle: core.Lifecycle,
            processing: CatalogProcessing,
            events: Events,
        ) -> None:
            definitions = read_definitions(config)
            if not definitions:
                return
            access = _GithubAccess(config, cache, lifecycle)
            for definition in definitions:
                before, provider = build(definition, access, scheduler, logger)
                processing.add_entity_provider(*before, provider)
                await events.subscribe(id=provider.name, topics=topics, on_event=provider.on_event)

        env.register_init(init)

    return register


def _discovery_provider(
    definition: GithubDiscoveryConfig,
    access: _GithubAccess,
    scheduler: SchedulerService,
    logger: LoggerService,
) -> tuple[Sequence[EntityProvider], _Subscribed]:
    integration = access.integration(
        definition.host, f"catalog.providers.github.{definition.id}.host"
    )
    organizations = functools.partial(app_organizations, access.client, integration, definition.app)
    api = access.api(integration)
    return [], GithubEntityProvider(definition, api, scheduler, logger, organizations)


def _org_providers(
    definition: GithubOrgConfig,
    access: _GithubAccess,
    scheduler: SchedulerService,
    logger: LoggerService,
) -> tuple[Sequence[EntityProvider], _Subscribed]:
    integration = access.integration(
        definition.host, f"catalog.providers.githubOrg {definition.id}"
    )
    organizations = functools.partial(app_organizations, access.client, integration)
    api = access.api(integration)
    provider = GithubMultiOrgEntityProvider(definition, api, scheduler, logger, organizations)
    return [GithubOrgEntityCleanerProvider(definition.id)], provider


def catalog_module_github_entity_provider() -> BackendModule:
    """GitHub discovery: `catalog.providers.github.<id>` (`organization`, `host`,
    `catalogPath`, `filters`, `schedule`) lists the organisation's repositories and emits a
    Location for each repository that passes the filters; `github.push` and
    `github.repository` events update that set at once."""
    return create_backend_module(
        plugin_id="catalog",
        module_id="github",
        register=_registration(read_github_discovery_configs, _discovery_provider, _TOPICS),
    )


def catalog_module_github_org_entity_provider() -> BackendModule:
    """GitHub users and teams: each `catalog.providers.githubOrg` definition (`id`,
    `githubUrl`, `orgs`, `schedule`, `pageSizes`) reads the organisations' members and
    teams through GraphQL as Users and Groups with their memberships; organisation, team
    and membership webhooks read them again at once."""
    return create_backend_module(
        plugin_id="catalog",
        module_id="github-org-entity-provider",
        register=_registration(read_github_org_configs, _org_providers, ORG_TOPICS),
    )
