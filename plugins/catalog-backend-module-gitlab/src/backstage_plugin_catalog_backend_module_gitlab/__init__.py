"""backstage_plugin_catalog_backend_module_gitlab: GitLab discovery for the catalog.

`catalog_module_gitlab_discovery_entity_provider()` registers a
`GitlabDiscoveryEntityProvider` for each `catalog.providers.gitlab.<id>` block, on the
block's schedule, updated by GitLab push webhooks.
"""

from backstage_plugin_catalog_backend_module_gitlab._config import (
    GitlabDiscoveryConfig,
    read_gitlab_discovery_configs,
)
from backstage_plugin_catalog_backend_module_gitlab._gitlab_api import GitlabApi
from backstage_plugin_catalog_backend_module_gitlab._module import (
    catalog_module_gitlab_discovery_entity_provider,
)
from backstage_plugin_catalog_backend_module_gitlab._provider import (
    GitlabDiscoveryEntityProvider,
    location_entity,
)

__all__ = [
    "GitlabApi",
    "GitlabDiscoveryConfig",
    "GitlabDiscoveryEntityProvider",
    "catalog_module_gitlab_discovery_entity_provider",
    "location_entity",
    "read_gitlab_discovery_configs",
]
