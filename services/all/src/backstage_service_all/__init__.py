"""The `all` deployment unit: every plugin in one process, the local default."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files

from backstage_backend_defaults import BackendFeature
from backstage_cli.units import Unit
from backstage_plugin_app_backend import app_plugin
from backstage_plugin_auth_backend import auth_features
from backstage_plugin_catalog_backend import catalog_features
from backstage_plugin_events_backend import events_features
from backstage_plugin_permission_backend import permission_plugin
from backstage_plugin_search_backend import search_features

__all__ = ["features", "unit"]


def features() -> Sequence[BackendFeature]:
    """Every plugin: this unit hosts them all."""
    return [
        app_plugin(),
        # with every installed catalog module (entity providers, push refresh)
        *catalog_features(),
        *events_features(),
        permission_plugin(),
        *search_features(),
        *auth_features(),
    ]


unit = Unit(
    name="all",
    features=features,
    config_overlay=files(__package__) / "app-config.all.yaml",
)
