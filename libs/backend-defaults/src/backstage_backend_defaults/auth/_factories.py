"""The `core.auth` and `core.httpAuth` factories and the config they read."""

from __future__ import annotations

from datetime import timedelta

import httpx
from backstage_backend_plugin_api import RootConfigService, create_service_factory
from backstage_backend_plugin_api import core_services as core
from backstage_common.durations import read_optional_duration
from backstage_common.errors import InputError

from backstage_backend_defaults._lazy_http import LazyHttpClient
from backstage_backend_defaults.auth._external_access import ExternalTokens, read_external_access
from backstage_backend_defaults.auth._http_auth import DefaultHttpAuthService
from backstage_backend_defaults.auth._key_source import PluginKeySource
from backstage_backend_defaults.auth._key_store import DatabaseKeyStore
from backstage_backend_defaults.auth._plugin_tokens import TOKEN_LIFETIME, PluginTokenHandler
from backstage_backend_defaults.auth._service import DefaultAuthService
from backstage_backend_defaults.auth._user_tokens import UserTokenHandler

__all__ = [
    "auth_service_factory",
    "http_auth_service_factory",
    "read_key_duration",
    "read_user_token_max_lifetime",
]

_DEFAULT_KEY_DURATION = timedelta(hours=1)
_USER_TOKEN_LIFETIME_BOUNDS = (timedelta(minutes=10), timedelta(hours=24))
_JWKS_TIMEOUT = httpx.Timeout(10.0)


def read_key_duration(config: RootConfigService) -> timedelta:
    """How long one signing key signs before the next: `pluginKeyStore.keyDuration`."""
    kind = config.get_optional_string("backend.auth.pluginKeyStore.type") or "database"
    if kind != "database":
        raise InputError(f"Unsupported backend.auth.pluginKeyStore.type '{kind}', use 'database'")
    key = "backend.auth.pluginKeyStore.keyDuration"
    duration = read_optional_duration(config, key) or _DEFAULT_KEY_DURATION
    if duration < timedelta(seconds=1):
        raise InputError(f"Invalid {key}: it must be at least one second")
    return duration


def read_user_token_max_lifetime(config: RootConfigService) -> timedelta:
    """The longest lifetime a user token may have: `auth.backstageTokenExpiration`, clamped
    as Backstage's auth backend clamps it (10 minutes to 24 hours); when it is not set here,
    24 hours, since the auth backend may run with a config of its own."""
    shortest, longest = _USER_TOKEN_LIFETIME_BOUNDS
    configured = read_optional_duration(config, "auth.backstageTokenExpiration")
    if configured is None:
        return longest
    return min(max(configured, shortest), longest)


def _create_auth(
    config: core.RootConfig,
    logger: core.Logger,
    discovery: core.Discovery,
    database: core.Database,
    lifecycle: core.Lifecycle,
    metadata: core.PluginMetadata,
) -> DefaultAuthService:
    plugin_id = metadata.get_id()
    keys = PluginKeySource(
        DatabaseKeyStore(database, plugin_id, logger),
        logger,
        key_duration=read_key_duration(config),
        token_lifetime=TOKEN_LIFETIME,
    )
    http = LazyHttpClient(_JWKS_TIMEOUT)
    lifecycle.add_shutdown_hook(http.close)
    return DefaultAuthService(
        plugin_id,
        PluginTokenHandler(plugin_id, keys, discovery, http, logger),
        UserTokenHandler(
            discovery,
            http,
            logger,
            algorithm=config.get_optional_string("auth.identityTokenAlgorithm") or "ES256",
            max_lifetime=read_user_token_max_lifetime(config),
        ),
        ExternalTokens(read_external_access(config)),
        policy_disabled=bool(
            config.get_optional_boolean("backend.auth.dangerouslyDisableDefaultAuthPolicy")
        ),
    )


def _create_http_auth(
    auth: core.Auth, discovery: core.Discovery, metadata: core.PluginMetadata
) -> DefaultHttpAuthService:
    return DefaultHttpAuthService(auth, discovery, metadata.get_id())


auth_service_factory = create_service_factory(service=core.auth, factory=_create_auth)
http_auth_service_factory = create_service_factory(
    service=core.http_auth, factory=_create_http_auth
)
