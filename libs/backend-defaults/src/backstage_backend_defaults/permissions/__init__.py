"""core.permissions and core.permissionsRegistry.

- `core.permissions` decides for a caller: service principals locally (ALLOW unless their
  access restrictions exclude the permission), everything ALLOW without a call when
  `permission.enabled` is not true, otherwise through the permission plugin's
  `POST /authorize`, batched per event-loop turn and cached per caller token until the
  token expires (`permission.cache.maxEntries` decisions per plugin, default 10,000).
- `core.permissionsRegistry` keeps what a plugin registers and serves
  `/.well-known/backstage/permissions/metadata` and `/apply-conditions` on its router.
"""

from backstage_backend_defaults.permissions._client import (
    PermissionBackendClient,
    PermissionBackendError,
    PermissionQuestion,
)
from backstage_backend_defaults.permissions._decision_cache import DecisionCache
from backstage_backend_defaults.permissions._factories import (
    permissions_registry_service_factory,
    permissions_service_factory,
)
from backstage_backend_defaults.permissions._integration_routes import (
    APPLY_CONDITIONS_PATH,
    METADATA_PATH,
)
from backstage_backend_defaults.permissions._registry import (
    DefaultPermissionsRegistryService,
    UnknownRuleError,
)
from backstage_backend_defaults.permissions._service import DefaultPermissionsService

__all__ = [
    "APPLY_CONDITIONS_PATH",
    "METADATA_PATH",
    "DecisionCache",
    "DefaultPermissionsRegistryService",
    "DefaultPermissionsService",
    "PermissionBackendClient",
    "PermissionBackendError",
    "PermissionQuestion",
    "UnknownRuleError",
    "permissions_registry_service_factory",
    "permissions_service_factory",
]
