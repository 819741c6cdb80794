"""The allow-all policy, and a module of the permission plugin that installs it."""

from __future__ import annotations

from backstage_backend_plugin_api import (
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_plugin_permission_common import AuthorizeResult, DefinitivePolicyDecision
from backstage_plugin_permission_node import (
    PolicyExtension,
    PolicyQuery,
    PolicyQueryUser,
)

__all__ = ["AllowAllPolicy", "permission_module_allow_all_policy"]


class AllowAllPolicy:
    """Allows everything, as Backstage's `permission-backend-module-allow-all-policy`."""

    async def handle(
        self, request: PolicyQuery, user: PolicyQueryUser | None
    ) -> DefinitivePolicyDecision:
        """ALLOW, whatever is asked.

        Args:
            request: what is asked (ignored).
            user: who asks (ignored).
        """
        return DefinitivePolicyDecision(AuthorizeResult.ALLOW)


def _register(env: ModuleRegistrationPoints) -> None:
    async def init(policy: PolicyExtension) -> None:
        policy.set_policy(AllowAllPolicy())

    env.register_init(init)


def permission_module_allow_all_policy() -> BackendModule:
    """A module that sets the allow-all policy on the permission plugin."""
    return create_backend_module(
        plugin_id="permission", module_id="allow-all-policy", register=_register
    )
