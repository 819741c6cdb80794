"""backstage_plugin_catalog_backend_module_github: GitHub discovery, users and teams.

`catalog_module_github_entity_provider()` registers a `GithubEntityProvider` for each
`catalog.providers.github` block; `catalog_module_github_org_entity_provider()` a
`GithubMultiOrgEntityProvider` for each `catalog.providers.githubOrg` definition. Each runs
on its block's schedule and is updated by GitHub webhooks.
"""

from backstage_plugin_catalog_backend_module_github._discovery import (
    GithubDiscoveryConfig,
    GithubEntityProvider,
    read_github_discovery_configs,
)
from backstage_plugin_catalog_backend_module_github._github_api import GithubApi, location_entity
from backstage_plugin_catalog_backend_module_github._installations import app_organizations
from backstage_plugin_catalog_backend_module_github._module import (
    catalog_module_github_entity_provider,
    catalog_module_github_org_entity_provider,
)
from backstage_plugin_catalog_backend_module_github._org_config import (
    GithubOrgConfig,
    read_github_org_configs,
)
from backstage_plugin_catalog_backend_module_github._org_provider import (
    GithubMultiOrgEntityProvider,
    GithubOrgEntityCleanerProvider,
)

__all__ = [
    "GithubApi",
    "GithubDiscoveryConfig",
    "GithubEntityProvider",
    "GithubMultiOrgEntityProvider",
    "GithubOrgConfig",
    "GithubOrgEntityCleanerProvider",
    "app_organizations",
    "catalog_module_github_entity_provider",
    "catalog_module_github_org_entity_provider",
    "location_entity",
    "read_github_discovery_configs",
    "read_github_org_configs",
]
