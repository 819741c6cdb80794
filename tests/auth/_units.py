"""Backends for the sign-in tests: the catalog (with the people of catalog.yaml) and the
auth plugin, in one unit or two, with real token verification and the default auth
policy on; and a proxy provider that signs in whoever a header names, so the tests drive
the sign-in resolvers against the real catalog."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from backstage_backend_defaults.auth import auth_service_factory, http_auth_service_factory
from backstage_backend_plugin_api import (
    BackendFeature,
    BackendModule,
    ModuleRegistrationPoints,
    create_backend_module,
)
from backstage_backend_test_utils import TestBackend, deep_merge, start_test_backend
from backstage_common.config import Config
from backstage_plugin_auth_backend import auth_plugin
from backstage_plugin_auth_backend_module_guest_provider import auth_module_guest_provider
from backstage_plugin_auth_node import (
    AuthProviderRequest,
    AuthProviders,
    ProfileInfo,
    ProxyAuthenticatorResult,
    common_sign_in_resolvers,
    create_proxy_provider_factory,
)
from backstage_plugin_catalog_backend import catalog_plugin

__all__ = ["CATALOG_FILE", "free_port", "header_provider_module", "unit", "wait_for_people"]

CATALOG_FILE = Path(__file__).parent / "catalog.yaml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class HeaderAuthenticator:
    """Whoever `X-Test-Email` names (a stand-in for an identity provider's profile)."""

    async def initialize(self, *, config: Config, is_development: bool) -> None:
        return None

    async def authenticate(
        self, request: AuthProviderRequest, ctx: None
    ) -> ProxyAuthenticatorResult[str]:
        return ProxyAuthenticatorResult(result=request.headers.get("x-test-email", ""))

    async def default_profile_transform(self, result: str, ctx: None) -> ProfileInfo:
        return ProfileInfo(email=result or None)


def header_provider_module() -> BackendModule:
    def register(env: ModuleRegistrationPoints) -> None:
        async def init(providers: AuthProviders) -> None:
            providers.register_provider(
                "header",
                create_proxy_provider_factory(
                    HeaderAuthenticator(), sign_in_resolver_factories=common_sign_in_resolvers
                ),
            )

        env.register_init(init)

    return create_backend_module(plugin_id="auth", module_id="header-provider", register=register)


def _catalog_config() -> dict[str, Any]:
    return {
        "catalog": {
            "locations": [
                {
                    "type": "file",
                    "target": str(CATALOG_FILE),
                    "rules": [{"allow": ["User", "Group"]}],
                }
            ]
        }
    }


@asynccontextmanager
async def unit(
    *,
    catalog: bool = True,
    auth: bool = True,
    port: int | None = None,
    endpoints: Sequence[tuple[int, str]] = (),
    config: dict[str, Any] | None = None,
    extra: Sequence[BackendFeature] = (),
) -> AsyncIterator[TestBackend]:
    """A backend with the catalog and/or the auth plugin (guest and header providers);
    `endpoints` (port, plugin id) say where the other unit's plugins are."""
    features: list[BackendFeature] = [auth_service_factory, http_auth_service_factory, *extra]
    base: dict[str, Any] = {"app": {"baseUrl": "http://localhost:3000"}}
    if catalog:
        features.append(catalog_plugin())
        base = deep_merge(base, _catalog_config())
    if auth:
        features += [auth_plugin(), auth_module_guest_provider(), header_provider_module()]
        base = deep_merge(
            base,
            {
                "backend": {"environment": "development"},
                "auth": {"providers": {"guest": {}, "header": {}}},
            },
        )
    if port is not None:
        base = deep_merge(
            base,
            {
                "backend": {
                    "baseUrl": f"http://127.0.0.1:{port}",
                    "listen": {"host": "127.0.0.1", "port": port},
                }
            },
        )
    if endpoints:
        base = deep_merge(
            base,
            {
                "discovery": {
                    "endpoints": [
                        {"target": f"http://127.0.0.1:{other}/api/{plugin}", "plugins": [plugin]}
                        for other, plugin in endpoints
                    ]
                }
            },
        )
    async with start_test_backend(features=features, config=deep_merge(base, config or {})) as test:
        yield test


async def wait_for_people(test: TestBackend, token: str) -> None:
    """Until the catalog has processed catalog.yaml (relations included)."""
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(300):
        response = await test.client.get(
            "/api/catalog/entities/by-name/user/default/jane.doe", headers=headers
        )
        if response.status_code == 200 and response.json().get("relations"):
            twins = await test.client.get(
                "/api/catalog/entities", params={"filter": "kind=user"}, headers=headers
            )
            if len(twins.json()) == 4:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the catalog did not process catalog.yaml in time")
