"""core.pluginMetadata: which plugin a plugin-scoped service belongs to."""

from __future__ import annotations

from typing import Protocol

__all__ = ["PluginMetadataService"]


class PluginMetadataService(Protocol):
    """core.pluginMetadata: the plugin a plugin-scoped service is created for."""

    def get_id(self) -> str:
        """The plugin's id, e.g. `catalog`."""
        ...
