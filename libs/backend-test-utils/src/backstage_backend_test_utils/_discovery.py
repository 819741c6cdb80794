"""Mock `core.discovery`: every plugin at `<base_url>/api/<pluginId>`."""

from __future__ import annotations

from urllib.parse import quote

from backstage_backend_plugin_api import DiscoveryService, ServiceFactory, create_service_factory
from backstage_backend_plugin_api import core_services as core

__all__ = ["MockDiscovery", "mock_discovery_factory"]

DEFAULT_BASE_URL = "http://localhost:0"
"""As in Backstage's mock: a port nothing listens on, so unmocked calls fail fast."""


class MockDiscovery:
    """Internal and external URLs are both `<base_url>/api/<pluginId>`."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL) -> None:
        self.base_url = base_url.rstrip("/")

    async def get_base_url(self, plugin_id: str) -> str:
        return f"{self.base_url}/api/{quote(plugin_id, safe='')}"

    async def get_external_base_url(self, plugin_id: str) -> str:
        return await self.get_base_url(plugin_id)


def mock_discovery_factory(base_url: str = DEFAULT_BASE_URL) -> ServiceFactory[DiscoveryService]:
    def create() -> DiscoveryService:
        return MockDiscovery(base_url)

    return create_service_factory(service=core.discovery, factory=create)
