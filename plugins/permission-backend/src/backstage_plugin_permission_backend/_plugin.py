"""The `permission` plugin: `/api/permission/authorize` over the installed policy.

The policy is the one a module sets through `policy_extension_point`; without one,
`permission.policy` (the config policy); without that either, allow-all while
`permission.enabled` is not true (clients then never ask) and a start error when it is.
"""

from __future__ import annotations

from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.errors import InputError
from backstage_plugin_permission_node import PermissionPolicy, policy_extension_point

from backstage_plugin_permission_backend._allow_all import AllowAllPolicy
from backstage_plugin_permission_backend._authorize import Authorizer
from backstage_plugin_permission_backend._conditions import ConditionResolver
from backstage_plugin_permission_backend._config_policy import read_config_policy
from backstage_plugin_permission_backend._http import LazyHttpClient
from backstage_plugin_permission_backend._router import permission_routes
from backstage_plugin_permission_backend._user_info import UserInfoLookup

__all__ = ["permission_plugin"]

PLUGIN_ID = "permission"


class _PolicySlot:
    """The `permission.policy` extension point: one policy, set by one module."""

    def __init__(self) -> None:
        self.policy: PermissionPolicy | None = None

    def set_policy(self, policy: PermissionPolicy) -> None:
        if self.policy is not None:
            raise InputError(
                "Two modules set the permission policy: only one policy module may be "
                f"installed (the first set {type(self.policy).__name__}, the second "
                f"{type(policy).__name__})"
            )
        self.policy = policy


def _choose_policy(
    slot: _PolicySlot, config: core.RootConfig, logger: core.Logger
) -> PermissionPolicy:
    configured = config.get_optional("permission.policy")
    enabled = config.get_optional_boolean("permission.enabled") is True
    if slot.policy is not None:
        if configured is not None:
            raise InputError(
                f"permission.policy is set, but a module set the policy "
                f"({type(slot.policy).__name__}); remove one of them"
            )
        policy = slot.policy
    elif configured is not None:
        policy = read_config_policy(configured)
    elif enabled:
        raise InputError(
            "The permission plugin needs a policy: set permission.policy, or add a policy "
            "module (permission_module_allow_all_policy allows everything)"
        )
    else:
        policy = AllowAllPolicy()
    if not enabled:
        logger.warn(
            "permission.enabled is not true: plugins decide without asking this plugin; "
            "it still answers /authorize with its policy"
        )
    return policy


def _register(env: PluginRegistrationPoints) -> None:
    slot = _PolicySlot()
    env.register_extension_point(policy_extension_point, slot)

    async def init(
        config: core.RootConfig,
        logger: core.Logger,
        router: core.HttpRouter,
        http_auth: core.HttpAuth,
        auth: core.Auth,
        discovery: core.Discovery,
        lifecycle: core.Lifecycle,
    ) -> None:
        policy = _choose_policy(slot, config, logger)
        http = LazyHttpClient()
        lifecycle.add_shutdown_hook(http.close)
        authorizer = Authorizer(
            policy,
            UserInfoLookup(discovery, http),
            ConditionResolver(auth, discovery, http),
            anonymous_conditions=config.get_optional_boolean(
                "backend.auth.dangerouslyDisableDefaultAuthPolicy"
            )
            is True,
        )
        router.use(*permission_routes(authorizer, http_auth))
        router.add_auth_policy(path="/health", allow="unauthenticated")

    env.register_init(init)


def permission_plugin() -> BackendPlugin:
    """The permission plugin, mounted at `/api/permission`."""
    return create_backend_plugin(plugin_id=PLUGIN_ID, register=_register)
