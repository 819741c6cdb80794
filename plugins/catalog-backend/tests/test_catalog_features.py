"""A unit hosting the catalog loads it with every installed catalog module, so entity
providers and push refreshes run in the split catalog unit as in the `all` unit."""

from __future__ import annotations

from importlib.metadata import entry_points

from backstage_backend_plugin_api import BackendModule, BackendPlugin
from backstage_plugin_catalog_backend import CATALOG_MODULES_ENTRY_POINT_GROUP, catalog_features


def test_the_catalog_comes_with_every_installed_module() -> None:
    features = catalog_features()
    plugin, modules = features[0], features[1:]
    assert isinstance(plugin, BackendPlugin)
    assert plugin.plugin_id == "catalog"
    assert all(isinstance(m, BackendModule) and m.plugin_id == "catalog" for m in modules)
    installed = {ep.name for ep in entry_points(group=CATALOG_MODULES_ENTRY_POINT_GROUP)}
    # the workspace installs the provider and event modules
    assert {
        "github-entity-provider",
        "github-org-entity-provider",
        "gitlab-discovery-entity-provider",
        "ldap-org-entity-provider",
        "location-refresh-on-push",
    } <= installed
    assert len(modules) == len(installed)
    assert len({m.module_id for m in modules}) == len(modules)
