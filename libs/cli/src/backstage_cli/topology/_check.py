"""`backstage-py topology check`: the topology, and every file derived from it, agree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.resources import as_file
from pathlib import Path
from typing import Any

import yaml
from backstage_backend_defaults.http_router import read_listen_options
from backstage_common.config import Config
from backstage_common.errors import BackstageError

from backstage_cli.topology._model import Topology
from backstage_cli.topology._plugins import installed_plugins
from backstage_cli.topology._render import (
    COMPOSE_CONFIG_PATH,
    HELM_VALUES_PATH,
    NGINX_CONFIG_PATH,
    UNIT_PORT,
    compose_unit_url,
    helm_unit,
    render_compose_config,
    render_compose_nginx,
    replace_helm_units,
)
from backstage_cli.units import load_unit

__all__ = [
    "COMPOSE_FILE",
    "check_compose",
    "check_helm_values",
    "check_installed",
    "check_project",
    "check_unit_configs",
    "compose_unit_services",
]

COMPOSE_FILE = Path("docker-compose.yml")
_RENDER_HINT = "run `backstage-py topology render`"


def _read_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=yaml.CSafeLoader)


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (str(item).partition("=") for item in env)
        return {key: value for key, _, value in pairs}
    return {str(key): str(value) for key, value in dict(env).items()}


def compose_unit_services(compose: Mapping[str, Any]) -> dict[str, str]:
    """Compose service name to the unit it runs (its `BACKSTAGE_UNIT`)."""
    services = compose.get("services") or {}
    return {
        name: env["BACKSTAGE_UNIT"]
        for name, service in services.items()
        if "BACKSTAGE_UNIT" in (env := _environment(service))
    }


def _mounts(service: Mapping[str, Any], file: Path) -> bool:
    return any(
        str(volume).split(":")[0] in (f"./{file}", str(file))
        for volume in service.get("volumes") or []
    )


def check_compose(topology: Topology, compose: Mapping[str, Any], *, source: str) -> list[str]:
    """One service per unit, named after it, with a health check and the generated
    discovery config; the proxy waits for every unit to be healthy."""
    problems: list[str] = []
    services: Mapping[str, Any] = compose.get("services") or {}
    runs = compose_unit_services(compose)
    for name, unit in runs.items():
        if unit not in topology.units:
            problems.append(
                f"{source}: service '{name}' runs unit '{unit}', which the topology does "
                "not declare"
            )
        elif name != unit:
            problems.append(
                f"{source}: service '{name}' runs unit '{unit}'; name the service '{unit}', "
                "since discovery reaches a unit by its service name"
            )
    for unit in topology.units:
        service = services.get(unit)
        if service is None or runs.get(unit) != unit:
            problems.append(
                f"{source}: no service '{unit}' with BACKSTAGE_UNIT: {unit} for unit '{unit}'"
            )
            continue
        if "healthcheck" not in service:
            problems.append(f"{source}: service '{unit}' has no healthcheck on its readiness")
        if not _mounts(service, COMPOSE_CONFIG_PATH):
            problems.append(f"{source}: service '{unit}' does not mount {COMPOSE_CONFIG_PATH}")
    proxies = [name for name, service in services.items() if _mounts(service, NGINX_CONFIG_PATH)]
    if not proxies:
        problems.append(f"{source}: no proxy service mounts {NGINX_CONFIG_PATH}")
    for proxy in proxies:
        depends = services[proxy].get("depends_on") or {}
        for unit in dict.fromkeys(topology.placement().values()):
            condition = (
                depends.get(unit, {}).get("condition") if isinstance(depends, dict) else None
            )
            if condition != "service_healthy":
                problems.append(
                    f"{source}: the proxy '{proxy}' does not wait for unit '{unit}' to be healthy"
                )
    return problems


def _endpoints(layers: Sequence[tuple[str, Any]]) -> tuple[str, list[Mapping[str, Any]]]:
    # Later config files replace arrays whole, as in Backstage: the last layer that sets
    # discovery.endpoints decides.
    for source, data in reversed(layers):
        endpoints = ((data or {}).get("discovery") or {}).get("endpoints")
        if endpoints is not None:
            return source, list(endpoints)
    return "", []


def _internal_target(endpoints: Sequence[Mapping[str, Any]], plugin_id: str) -> str | None:
    for wanted in (plugin_id, "*"):
        for endpoint in reversed(endpoints):
            if wanted not in (endpoint.get("plugins") or []):
                continue
            target = endpoint.get("target")
            internal = target.get("internal") if isinstance(target, Mapping) else target
            if isinstance(internal, str):
                return internal.replace("{{pluginId}}", plugin_id).replace(
                    "{{ pluginId }}", plugin_id
                )
    return None


def _overlay(unit: str, topology: Topology) -> tuple[str, Any]:
    overlay = load_unit(unit, extra_names=list(topology.units)).config_overlay
    if overlay is None:
        return "", {}
    with as_file(overlay) as path:
        return str(path), _read_yaml(Path(path))


def check_unit_configs(topology: Topology, compose_config: tuple[str, Any]) -> list[str]:
    """Each unit's config (the Compose discovery file, then the unit's own overlay) sends
    every plugin to the unit hosting it, and the unit listens on the unit port."""
    problems: list[str] = []
    placement = topology.placement()
    for unit in topology.units:
        overlay_source, overlay = _overlay(unit, topology)
        if overlay and (overlay.get("backend") or {}).get("listen") is not None:
            port = read_listen_options(Config.from_data(overlay, overlay_source)).port
            if port != UNIT_PORT:
                problems.append(
                    f"{overlay_source}: unit '{unit}' listens on port {port}; Compose, nginx "
                    f"and the chart reach every unit on port {UNIT_PORT}"
                )
        layers = [compose_config] + ([(overlay_source, overlay)] if overlay_source else [])
        source, endpoints = _endpoints(layers)
        for plugin_id, host in placement.items():
            expected = f"{compose_unit_url(host)}/api/{plugin_id}"
            actual = _internal_target(endpoints, plugin_id)
            if actual is not None and actual.rstrip("/") == expected:
                continue
            where = source or compose_config[0]
            problems.append(
                f"{where}: unit '{unit}' sends plugin '{plugin_id}' to {actual or 'itself'}, "
                f"but the topology hosts it in unit '{host}' ({expected})"
            )
    return problems


def check_helm_values(topology: Topology, values: Mapping[str, Any], *, source: str) -> list[str]:
    """The chart's default `units` are the topology's (their roles included)."""
    expected = [helm_unit(unit) for unit in topology.units.values()]
    actual = [
        {key: u[key] for key in ("name", "plugins", "role") if key in u}
        for u in values.get("units") or []
    ]
    if actual == expected:
        return []
    show = (
        "; ".join(f"{u.get('name')}: {', '.join(u.get('plugins') or [])}" for u in actual) or "none"
    )
    return [f"{source}: units ({show}) disagree with the topology; {_RENDER_HINT}"]


def check_installed(topology: Topology) -> list[str]:
    """Every plugin of the topology is installed here."""
    installed = set(installed_plugins())
    return [
        f"plugin '{spec.id}' is not installed (no 'backstage.plugins' entry point"
        + (f"; install '{spec.package}')" if spec.package else ")")
        for spec in topology.plugins.values()
        if spec.id not in installed
    ]


def _generated(root: Path, path: Path, expected: str) -> list[str]:
    file = root / path
    if not file.is_file():
        return [f"{path} is missing; {_RENDER_HINT}"]
    if file.read_text() != expected:
        return [f"{path} does not match the topology; {_RENDER_HINT}"]
    return []


def check_project(topology: Topology, root: Path, *, installed: bool = False) -> list[str]:
    """Every problem of the topology and of the project files derived from it."""
    problems = topology.problems()
    if problems:
        return problems  # derived files are meaningless until the topology itself is valid
    compose_path = root / COMPOSE_CONFIG_PATH
    compose_config = (
        str(COMPOSE_CONFIG_PATH),
        _read_yaml(compose_path) if compose_path.is_file() else {},
    )
    try:
        problems += check_unit_configs(topology, compose_config)
    except BackstageError as error:
        problems.append(str(error))
    problems += _generated(root, COMPOSE_CONFIG_PATH, render_compose_config(topology))
    problems += _generated(root, NGINX_CONFIG_PATH, render_compose_nginx(topology))
    if (root / COMPOSE_FILE).is_file():
        problems += check_compose(
            topology, _read_yaml(root / COMPOSE_FILE), source=str(COMPOSE_FILE)
        )
    else:
        problems.append(f"{COMPOSE_FILE} is missing")
    values_path = root / HELM_VALUES_PATH
    if values_path.is_file():
        text = values_path.read_text()
        problems += check_helm_values(
            topology, yaml.load(text, Loader=yaml.CSafeLoader), source=str(HELM_VALUES_PATH)
        )
        try:
            if replace_helm_units(text, topology, source=str(HELM_VALUES_PATH)) != text:
                problems.append(
                    f"{HELM_VALUES_PATH}: the generated units block is stale; {_RENDER_HINT}"
                )
        except BackstageError as error:
            problems.append(str(error))
    else:
        problems.append(f"{HELM_VALUES_PATH} is missing")
    if installed:
        problems += check_installed(topology)
    return list(dict.fromkeys(problems))
