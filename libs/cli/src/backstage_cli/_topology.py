"""`backstage-py topology ...` and `backstage-py healthcheck`."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import click
from backstage_common.errors import BackstageError

from backstage_cli._project import find_project_root
from backstage_cli.topology import (
    DEFAULT_TOPOLOGY_PATH,
    Topology,
    check_project,
    load_topology,
    render_project,
)

__all__ = ["healthcheck", "topology"]

_ROOT_HELP = "The project folder (default: the nearest folder up holding an app-config.yaml)."


def _root(root: Path | None) -> Path:
    found = root or find_project_root(Path.cwd())
    if found is None:
        raise click.UsageError("No app-config.yaml in this folder or its parents; pass --root DIR")
    return found


def _load(root: Path, path: Path | None) -> Topology:
    try:
        return load_topology(path or root / DEFAULT_TOPOLOGY_PATH)
    except BackstageError as error:
        raise click.ClickException(str(error)) from error


_topology_option = click.option(
    "--topology",
    "topology_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The topology file (default: deploy/topology.yaml in the project folder).",
)
_root_option = click.option(
    "--root", type=click.Path(path_type=Path, file_okay=False), help=_ROOT_HELP
)


@click.group()
def topology() -> None:
    """Which unit hosts which plugin, and the files derived from it."""


@topology.command()
@_topology_option
@_root_option
@click.option("--installed", is_flag=True, help="Also require every plugin to be installed here.")
def check(topology_path: Path | None, root: Path | None, installed: bool) -> None:
    """Fail when a plugin is hosted by no unit or by two, a required plugin is hosted
    nowhere, or a unit's config, docker-compose.yml, the proxy's nginx.conf or the chart's
    units disagree with the topology."""
    folder = _root(root)
    plan = _load(folder, topology_path)
    problems = check_project(plan, folder, installed=installed)
    if problems:
        for problem in problems:
            click.echo(f"- {problem}", err=True)
        raise click.ClickException(f"{len(problems)} problem(s) with the topology")
    click.echo(f"topology OK: {len(plan.units)} unit(s), {len(plan.plugin_ids())} plugin(s)")


@topology.command()
@_topology_option
@_root_option
def render(topology_path: Path | None, root: Path | None) -> None:
    """Write the files derived from the topology: deploy/compose/app-config.compose.yaml,
    deploy/compose/nginx.conf and the units of the Helm chart's values.yaml."""
    folder = _root(root)
    plan = _load(folder, topology_path)
    problems = plan.problems()
    if problems:
        raise click.ClickException("Invalid topology: " + "; ".join(problems))
    try:
        changed = render_project(plan, folder)
    except BackstageError as error:
        raise click.ClickException(str(error)) from error
    for path in changed:
        click.echo(f"wrote {path}")
    if not changed:
        click.echo("up to date")


@topology.command()
@_topology_option
@_root_option
def show(topology_path: Path | None, root: Path | None) -> None:
    """Print each plugin with the unit hosting it."""
    plan = _load(_root(root), topology_path)
    for plugin_id in plan.plugin_ids():
        click.echo(f"{plugin_id}\t{', '.join(plan.hosts_of(plugin_id)) or '-'}")


@click.command()
@click.option(
    "--url",
    default="http://127.0.0.1:7007/.backstage/health/v1/readiness",
    show_default=True,
    envvar="BACKSTAGE_HEALTHCHECK_URL",
    help="The readiness URL to ask; env BACKSTAGE_HEALTHCHECK_URL.",
)
@click.option("--timeout", default=3.0, show_default=True, help="Seconds to wait for an answer.")
def healthcheck(url: str, timeout: float) -> None:
    """Exit 0 when the unit answers its readiness check with 200 (for container health
    checks: slim images have no curl)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        raise click.ClickException(f"{url}: {error}") from error
    if status != 200:
        raise click.ClickException(f"{url}: status {status}")
    click.echo("ready")
