"""backstage_plugin_catalog_backend_module_events: the catalog reacting to push webhooks.

`catalog_module_location_refresh_on_push()` refreshes a registered location as soon as a
GitHub or GitLab push changes its file, without waiting for the processing interval.
"""

from backstage_plugin_catalog_backend_module_events._module import (
    PushRefresher,
    catalog_module_location_refresh_on_push,
)
from backstage_plugin_catalog_backend_module_events._push import (
    github_push_keys,
    gitlab_push_keys,
)

__all__ = [
    "PushRefresher",
    "catalog_module_location_refresh_on_push",
    "github_push_keys",
    "gitlab_push_keys",
]
