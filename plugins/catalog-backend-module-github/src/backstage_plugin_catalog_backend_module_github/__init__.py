"""backstage_plugin_catalog_backend_module_github: GitHub discovery for the catalog.

`catalog_module_github_entity_provider()` registers a `GithubEntityProvider` for each
`catalog.providers.github` block, on the block's schedule, updated by GitHub webhooks.
"""

from backstage_plugin_catalog_backend_module_github._discovery import (
    GithubDiscoveryConfig,
    GithubEntityProvider,
    read_github_discovery_configs,
)
from backstage_plugin_catalog_backend_module_github._github_api import GithubApi, location_entity
from backstage_plugin_catalog_backend_module_github._module import (
    catalog_module_github_entity_provider,
)

__all__ = [
    "GithubApi",
    "GithubDiscoveryConfig",
    "GithubEntityProvider",
    "catalog_module_github_entity_provider",
    "location_entity",
    "read_github_discovery_configs",
]
