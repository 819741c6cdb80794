"""core.pluginMetadata: which plugin a plugin-scoped service belongs to."""

from __future__ import annotations

from typing import Protocol

__all__ = ["PluginMetadataService"]


class PluginMetadataService(Protocol):
    def get_id(self) -> str: ...
