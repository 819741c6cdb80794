"""core.discovery: where each plugin is reachable."""

from __future__ import annotations

from typing import Protocol

__all__ = ["DiscoveryService"]


class DiscoveryService(Protocol):
    async def get_base_url(self, plugin_id: str) -> str:
        """The internal base URL of a plugin's API, no trailing slash; ask before each call."""
        ...

    async def get_external_base_url(self, plugin_id: str) -> str:
        """The base URL at which browsers and webhooks reach a plugin's API."""
        ...
