"""Backends for the auth plugin's tests: the plugin with its guest module, real token
verification (backend-defaults' auth services) and a probe plugin whose route needs
credentials, so a test sees what another plugin makes of an issued token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_plugin_api import (
    BackendFeature,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import TestBackend, deep_merge, start_test_backend
from backstage_plugin_auth_backend import auth_plugin
from backstage_plugin_auth_backend_module_guest_provider import auth_module_guest_provider
from litestar import Request, get

__all__ = ["APP_URL", "auth_backend", "probe_plugin"]

APP_URL = "http://localhost:3000"


def probe_plugin() -> BackendFeature:
    """`GET /api/probe/whoami`: the caller's principal, with the default auth policy."""

    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core.HttpRouter, http_auth: core.HttpAuth) -> None:
            @get("/whoami")
            async def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
                credentials = await http_auth.credentials(request)
                principal = credentials.principal
                return {
                    "type": principal.type,
                    "userEntityRef": getattr(principal, "user_entity_ref", None),
                }

            router.use(whoami)

        env.register_init(init)

    return create_backend_plugin(plugin_id="probe", register=register)


@asynccontextmanager
async def auth_backend(
    config: dict[str, Any] | None = None,
    extra: Sequence[BackendFeature] = (),
    *,
    guest: bool = True,
) -> AsyncIterator[TestBackend]:
    """The auth plugin (guest configured unless `guest=False`, development), the probe,
    real auth services."""
    base: dict[str, Any] = {
        "app": {"baseUrl": APP_URL},
        "backend": {"environment": "development"},
        "auth": {"providers": {"guest": {}} if guest else {}},
    }
    features = [
        auth_service_factory,
        http_auth_service_factory,
        auth_plugin(),
        auth_module_guest_provider(),
        probe_plugin(),
        *extra,
    ]
    async with start_test_backend(features=features, config=deep_merge(base, config or {})) as test:
        yield test
