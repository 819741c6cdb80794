"""`backstage-py config ...`: the merged config, checked against the installed schemas."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml
from backstage_common.config import Config, ConfigSchema, load_config
from backstage_common.errors import BackstageError

from backstage_cli._project import find_project_root, unit_config_paths
from backstage_cli.topology import find_topology, load_topology
from backstage_cli.units import load_unit

__all__ = ["config"]


def _load(unit_name: str, configs: tuple[Path, ...]) -> Config:
    """The config `backstage-py start --unit <unit_name>` would start with."""
    try:
        path = find_topology(None, project_root=find_project_root(Path.cwd()), env={})
        plan = load_topology(path) if path is not None else None
        unit = load_unit(unit_name, extra_names=list(plan.units) if plan is not None else ())
        return load_config(unit_config_paths(unit, configs))
    except BackstageError as error:
        raise click.ClickException(str(error)) from error


def _schema() -> ConfigSchema:
    try:
        return ConfigSchema.from_entry_points()
    except BackstageError as error:
        raise click.ClickException(str(error)) from error


_unit = click.option(
    "--unit", "unit_name", default="all", show_default=True, envvar="BACKSTAGE_UNIT",
    help="The unit whose config to read (its overlay joins the default list); env BACKSTAGE_UNIT.",
)  # fmt: skip
_configs = click.option(
    "--config", "configs", multiple=True, type=click.Path(path_type=Path),
    help="Config files, as for `start` (default: app-config.yaml and the rest of start's list).",
)  # fmt: skip


@click.group()
def config() -> None:
    """The merged app-config, as a unit starts with it."""


@config.command()
@_unit
@_configs
def check(unit_name: str, configs: tuple[Path, ...]) -> None:
    """Check the config against the schemas of the installed packages, as `start` does.

    Unknown keys are warnings (with the closest known key); values of the wrong type are
    errors, naming the key and the file, and make the command exit with status 1.
    """
    result = _schema().validate(_load(unit_name, configs))
    for warning in result.warnings:
        click.echo(f"warning: {warning.message}", err=True)
    for error in result.errors:
        click.echo(f"error: {error.message}", err=True)
    if result.errors:
        raise click.exceptions.Exit(1)
    click.echo(f"The config is valid ({len(result.warnings)} warning(s))")


@config.command(name="print")
@_unit
@_configs
@click.option(
    "--format", "output_format", type=click.Choice(["yaml", "json"]), default="yaml",
    show_default=True, help="How to print it.",
)  # fmt: skip
def print_config(unit_name: str, configs: tuple[Path, ...], output_format: str) -> None:
    """Print the merged config (files, transforms and APP_CONFIG_* variables applied), every
    value a schema marks secret replaced by <secret>."""
    data = _load(unit_name, configs).get_optional()
    masked = _schema().mask_secrets(data if isinstance(data, dict) else {})
    if output_format == "json":
        click.echo(json.dumps(masked, indent=2))
    else:
        click.echo(yaml.safe_dump(masked, sort_keys=False, allow_unicode=True), nl=False)
