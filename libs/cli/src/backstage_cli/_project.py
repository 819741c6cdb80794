"""The project folder and the config files a unit starts with."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import as_file
from pathlib import Path

import click
from backstage_backend_defaults.root_config import default_config_paths

from backstage_cli.units import Unit, load_unit

__all__ = ["config_paths_for_unit", "find_project_root", "unit_config_paths"]


def find_project_root(start: Path) -> Path | None:
    """The nearest folder, from `start` up, that holds an `app-config.yaml`."""
    for folder in (start, *start.parents):
        if (folder / "app-config.yaml").is_file():
            return folder
    return None


def unit_config_paths(unit: Unit, configs: Sequence[Path]) -> list[Path]:
    """`configs` when given, else the default list of the project folder with `unit`'s
    overlay; a usage error when there is no project folder."""
    if configs:
        return list(configs)
    root = find_project_root(Path.cwd())
    if root is None:
        raise click.UsageError(
            "No app-config.yaml in this folder or its parents; run from the project folder "
            "or pass --config FILE"
        )
    overlays: list[Path] = []
    if unit.config_overlay is not None:
        with as_file(unit.config_overlay) as overlay:
            overlays.append(Path(overlay))
    return default_config_paths(root, overlays=overlays)


def config_paths_for_unit(unit_name: str, configs: Sequence[Path]) -> list[Path]:
    """The config files a unit starts with: `configs` when given, else the default list."""
    return unit_config_paths(load_unit(unit_name), configs)
