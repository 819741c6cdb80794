"""Mock `core.rootConfig` and the deep merge the test backend uses for its config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backstage_backend_plugin_api import ServiceFactory, create_service_factory
from backstage_backend_plugin_api import core_services as core
from backstage_common.config import Config, merge_objects

__all__ = ["deep_merge", "mock_root_config", "mock_root_config_factory"]


def deep_merge(lower: Mapping[str, Any], higher: Mapping[str, Any]) -> dict[str, Any]:
    """Config merging as Backstage does it: objects merge deeply, anything else is replaced."""
    return merge_objects(lower, higher)


def mock_root_config(data: Mapping[str, Any] | None = None) -> Config:
    """A config holding exactly `data` (no files, no environment overrides)."""
    return Config.from_data(dict(data or {}), "mock-config")


def mock_root_config_factory(data: Mapping[str, Any] | None = None) -> ServiceFactory[Config]:
    """A root config factory for `data`; each backend gets its own `Config`."""
    snapshot = dict(data or {})

    def create() -> Config:
        return mock_root_config(snapshot)

    return create_service_factory(service=core.root_config, factory=create)
