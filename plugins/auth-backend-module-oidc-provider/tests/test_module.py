"""The module registers `oidc` through auth-node's providers extension point."""

from __future__ import annotations

from backstage_backend_test_utils import start_test_backend
from backstage_plugin_auth_backend_module_oidc_provider import (
    auth_module_oidc_provider,
    oidc_sign_in_resolvers,
)
from backstage_plugin_auth_node import AuthProviderFactory, auth_providers_extension_point


class RecordingProviders:
    """The extension point as a module sees it, recording what is registered."""

    def __init__(self) -> None:
        self.registered: dict[str, AuthProviderFactory] = {}

    def register_provider(self, provider_id: str, factory: AuthProviderFactory) -> None:
        self.registered[provider_id] = factory


async def test_registers_the_oidc_provider() -> None:
    providers = RecordingProviders()
    module = auth_module_oidc_provider()
    assert (module.plugin_id, module.module_id) == ("auth", "oidc-provider")
    async with start_test_backend(
        features=[module], extension_points=[(auth_providers_extension_point, providers)]
    ):
        assert list(providers.registered) == ["oidc"]
        assert callable(providers.registered["oidc"])


def test_offers_the_common_resolvers() -> None:
    assert {
        "emailMatchingUserEntityProfileEmail",
        "emailLocalPartMatchingUserEntityName",
    } <= set(oidc_sign_in_resolvers)
