"""core.rootConfig: the backend's merged configuration."""

from __future__ import annotations

from typing import TypeAlias

from backstage_common.config import Config

__all__ = ["RootConfigService"]

RootConfigService: TypeAlias = Config
"""The root config is a `backstage_common.config.Config`: typed getters over the merged files."""
