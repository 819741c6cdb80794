"""core.discovery: where each plugin is reachable."""

from __future__ import annotations

from typing import Protocol

__all__ = ["DiscoveryService"]


class DiscoveryService(Protocol):
    """core.discovery: the URLs of each plugin's API, internal and external."""

    async def get_base_url(self, plugin_id: str) -> str:
        """The internal base URL of a plugin's API, no trailing slash; ask before each call.

        Args:
            plugin_id: the plugin whose API is called.
        """
        ...

    async def get_external_base_url(self, plugin_id: str) -> str:
        """The base URL at which browsers and webhooks reach a plugin's API.

        Args:
            plugin_id: the plugin whose API is reached.
        """
        ...
