"""The `search` deployment unit: it hosts the plugins deploy/topology.yaml lists for it."""

from __future__ import annotations

from importlib.resources import files

from backstage_cli.units import Unit

__all__ = ["unit"]

unit = Unit(name="search", config_overlay=files(__package__) / "app-config.search.yaml")
