"""The `backstage-py` command."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.metadata
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import click
from backstage_backend_defaults import BackendFeature, create_backend
from backstage_backend_defaults.logger import StdlibLogBridge, StructuredLogger
from backstage_backend_defaults.root_config import config_validation_service_factory
from backstage_backend_defaults.telemetry import TelemetryOptions, telemetry_service_factory
from backstage_backend_plugin_api import core_services
from backstage_common.config import load_config
from backstage_common.errors import BackstageError

from backstage_cli._app import app
from backstage_cli._config import config
from backstage_cli._db import db
from backstage_cli._multi import supervise_unit
from backstage_cli._project import find_project_root, unit_config_paths
from backstage_cli._supervisor import WORKER_ENV, report_ready
from backstage_cli._topology import healthcheck, topology
from backstage_cli._workers import read_worker_count
from backstage_cli.topology import find_topology, load_topology, unit_features
from backstage_cli.units import Unit, available_units, load_unit

__all__ = ["main", "run_unit"]


def _telemetry_options(unit: Unit) -> TelemetryOptions:
    """The unit's telemetry: its name as the service name, the process's `OTEL_*` variables,
    its providers and propagators OpenTelemetry's global ones (plugin code's spans and
    metrics are exported with the backend's)."""
    try:
        version = importlib.metadata.version("backstage-backend-defaults")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - always installed
        version = "0.0.0"
    return TelemetryOptions(
        unit=unit.name, version=version, env=dict(os.environ), global_providers=True
    )


async def _serve(unit: Unit, paths: Sequence[Path], features: Sequence[BackendFeature]) -> int:
    backend = create_backend(config_paths=paths)
    # unknown keys are warned about, values of the wrong type stop the start
    backend.add(config_validation_service_factory())
    backend.add(telemetry_service_factory(_telemetry_options(unit)))
    for feature in features:
        backend.add(feature)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await backend.start()
    except BackstageError as error:
        click.echo(f"backstage-py: unit '{unit.name}' failed to start: {error}", err=True)
        return 1
    # What starting made (modules, routes, table metadata, pools) lives as long as the process:
    # the garbage collector need not walk it again on each of its full passes (a catalog under
    # load: about 13 ms a pass instead of 100). The collector was off while they were made
    # (`start`): its passes over them found next to nothing to free.
    gc.freeze()
    gc.enable()
    report_ready()
    root_logger = await backend.get_service(core_services.root_logger)
    if isinstance(root_logger, StructuredLogger):
        bridge = StdlibLogBridge(root_logger.child({"source": "python-logging"}))
        bridge.setLevel(logging.WARNING)
        logging.getLogger().addHandler(bridge)
    await stop.wait()
    root_logger.info("Shutting down")
    await backend.stop()
    if isinstance(root_logger, StructuredLogger):
        root_logger.sink.flush()
    return 0


def run_unit(
    unit: Unit, paths: Sequence[Path], features: Sequence[BackendFeature] | None = None
) -> int:
    """Serve `unit` (with `features`, by default the unit's own) from the config files
    `paths` until SIGTERM or SIGINT; the exit code."""
    if features is None:
        features = unit_features(unit, None)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.run(_serve(unit, paths, features))
    return uvloop.run(_serve(unit, paths, features))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="backstage-cli", prog_name="backstage-py")
def main() -> None:
    """backstage-py: Backstage's backend system, in Python.

    Starts deployment units (sets of backend plugins) from app-config files.
    """


@main.command()
@click.option(
    "--unit",
    "unit_name",
    default="all",
    show_default=True,
    envvar="BACKSTAGE_UNIT",
    help="The deployment unit to start (see `backstage-py units`); env BACKSTAGE_UNIT.",
)
@click.option(
    "--topology",
    "topology_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="BACKSTAGE_TOPOLOGY",
    help=(
        "The topology naming the plugins of each unit; env BACKSTAGE_TOPOLOGY, default "
        "deploy/topology.yaml in the project folder when present. A unit it does not name "
        "hosts its package's own plugins."
    ),
)
@click.option(
    "--config",
    "configs",
    multiple=True,
    type=click.Path(path_type=Path),
    help=(
        "A config file; repeat for more, later files win. Given, it replaces the default "
        "list: app-config.yaml, app-config.<BACKSTAGE_ENV>.yaml, the unit's overlay, "
        "app-config.local.yaml (the last ones only when present). APP_CONFIG_* environment "
        "variables always apply last."
    ),
)
def start(unit_name: str, configs: tuple[Path, ...], topology_path: Path | None) -> None:
    """Start a deployment unit and serve it until SIGTERM or Ctrl-C.

    On SIGTERM, readiness turns 503, requests in flight finish, shutdown hooks run, and the
    process exits 0. With `backend.workers` above 1 this process supervises the unit's
    worker processes and forwards the signal to them.
    """
    # Until the unit has started (`_serve`): what loading its plugins and starting them makes
    # lives as long as the process, and collecting passes over it cost about 0.1 s of start-up.
    gc.disable()
    try:
        path = find_topology(topology_path, project_root=find_project_root(Path.cwd()), env={})
        plan = load_topology(path) if path is not None else None
        unit = load_unit(unit_name, extra_names=list(plan.units) if plan is not None else ())
        features = unit_features(unit, plan)
        paths = unit_config_paths(unit, configs)
        spec = plan.units.get(unit.name) if plan is not None else None
        if spec is not None and spec.role != "all":
            # the topology's split of a plugin across units: this unit's part of it
            os.environ.setdefault("APP_CONFIG_backend_worker_role", spec.role)
        workers = 1
        if WORKER_ENV not in os.environ:
            config = load_config(paths)
            workers = read_worker_count(config)
    except BackstageError as error:
        raise click.ClickException(str(error)) from error
    with contextlib.suppress(KeyboardInterrupt):
        if workers > 1:
            supervise_unit(unit, paths, path, config, workers)
        sys.exit(run_unit(unit, paths, features))


@main.command()
def units() -> None:
    """List the deployment units installed in this environment."""
    for name in available_units():
        click.echo(name)


main.add_command(app)
main.add_command(config)
main.add_command(db)
main.add_command(topology)
main.add_command(healthcheck)
