"""The `catalog` unit: a name and a config overlay; its plugins come from the topology."""

from __future__ import annotations

from pathlib import Path

from backstage_cli.topology import load_topology
from backstage_cli.units import load_unit
from backstage_common.config import load_config

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_the_unit_is_installed_with_its_overlay_and_no_plugin_list_of_its_own() -> None:
    unit = load_unit("catalog")
    assert unit.name == "catalog"
    assert unit.features is None
    assert unit.config_overlay is not None
    assert unit.config_overlay.is_file()
    assert "catalog" in load_topology(REPO_ROOT / "deploy/topology.yaml").units


def test_the_overlay_listens_on_the_unit_port() -> None:
    unit = load_unit("catalog")
    assert unit.config_overlay is not None
    config = load_config([REPO_ROOT / "app-config.yaml", str(unit.config_overlay)], env={})
    assert config.get_number("backend.listen.port") == 7007
