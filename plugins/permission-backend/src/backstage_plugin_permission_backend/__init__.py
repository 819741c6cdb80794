"""backstage_plugin_permission_backend: the permission plugin (`/api/permission`).

`POST /authorize` decides batched permission requests with the installed policy, as
Backstage's permission backend: conditional decisions are returned as they are, or, for
given resources, applied by the plugin owning the resource type. Policies: a module sets
one through `policy_extension_point` (`permission_module_allow_all_policy`), or the
config policy is read from `permission.policy` (see `read_config_policy`).
"""

from backstage_plugin_permission_backend._allow_all import (
    AllowAllPolicy,
    permission_module_allow_all_policy,
)
from backstage_plugin_permission_backend._config_policy import ConfigPolicy, read_config_policy
from backstage_plugin_permission_backend._plugin import permission_plugin

__all__ = [
    "AllowAllPolicy",
    "ConfigPolicy",
    "permission_module_allow_all_policy",
    "permission_plugin",
    "read_config_policy",
]
