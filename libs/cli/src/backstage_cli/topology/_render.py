"""Files generated from the topology: the units' discovery config for Compose, the reverse
proxy's nginx.conf, and the `units` list of the Helm chart's values."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from backstage_common.errors import InputError

from backstage_cli.topology._model import Topology, UnitSpec

__all__ = [
    "COMPOSE_CONFIG_PATH",
    "HELM_VALUES_PATH",
    "NGINX_CONFIG_PATH",
    "UNIT_PORT",
    "compose_discovery_config",
    "compose_unit_url",
    "render_compose_config",
    "render_compose_nginx",
    "render_helm_units",
    "render_nginx",
    "render_project",
    "replace_helm_units",
]

UNIT_PORT = 7007
COMPOSE_CONFIG_PATH = Path("deploy/compose/app-config.compose.yaml")
NGINX_CONFIG_PATH = Path("deploy/compose/nginx.conf")
HELM_VALUES_PATH = Path("deploy/helm/backstage-py/values.yaml")
_HEADER = "Generated from deploy/topology.yaml by `backstage-py topology render`: do not edit."
_UNITS_BEGIN = "# BEGIN units:"
_UNITS_END = "# END units"
_UNITS_BLOCK = re.compile(
    rf"^{re.escape(_UNITS_BEGIN)}.*?^{re.escape(_UNITS_END)}[^\n]*$", re.M | re.S
)


def compose_unit_url(unit: str) -> str:
    """Where the other containers reach `unit`: its Compose service, on the unit port."""
    return f"http://{unit}:{UNIT_PORT}"


def compose_discovery_config(
    topology: Topology, *, unit_url: Callable[[str], str] = compose_unit_url
) -> dict[str, Any]:
    """`discovery.endpoints` for every plugin (the same block in every unit): the internal
    URL is the unit serving it, `unit_url(unit)` (its Compose service by default), never
    a unit of role background; the external one stays `backend.baseUrl` (the proxy)."""
    endpoints = [
        {
            "target": {"internal": f"{unit_url(unit.name)}/api/{{{{pluginId}}}}"},
            "plugins": list(unit.plugins),
        }
        for unit in topology.units.values()
        if unit.plugins and unit.serves
    ]
    return {"discovery": {"endpoints": endpoints}}


def render_compose_config(topology: Topology) -> str:
    body = yaml.safe_dump(compose_discovery_config(topology), sort_keys=False, width=100)
    return (
        f"# {_HEADER}\n"
        "# Every unit in docker-compose.yml reads this file: each plugin's internal URL is the\n"
        "# Compose service of the unit hosting it.\n"
        f"{body}"
    )


INDEX_PLUGIN = "app"
"""The plugin that serves every path outside `/api`: the frontend app."""


def _var(unit: str) -> str:
    return "$unit_" + unit.replace("-", "_")


def render_nginx(
    topology: Topology,
    *,
    upstream: Callable[[str], str],
    listen: str = "80",
    resolver: str | None = None,
    runtime_dir: Path | None = None,
) -> str:
    """nginx.conf routing `/api/<pluginId>` (and everything under it) to the unit hosting
    the plugin, `upstream(unit)` giving `host:port`; other paths go to the unit hosting the
    app plugin, and get a JSON 404 when there is none (or under `/api`). With a
    `resolver`, names are looked up per request (Compose's DNS), so nginx starts before the
    units resolve and follows re-created containers. `runtime_dir` keeps the pid file, logs
    and temporary files there (an unprivileged nginx in the foreground)."""
    placement = topology.placement()
    lines = [f"# {_HEADER}", "worker_processes 1;"]
    if runtime_dir is not None:
        lines += [
            "daemon off;",
            f"pid {runtime_dir}/nginx.pid;",
            f"error_log {runtime_dir}/error.log;",
        ]
    lines += ["events { worker_connections 1024; }", "http {"]
    if runtime_dir is not None:
        lines += [f"  access_log {runtime_dir}/access.log;"]
        lines += [
            f"  {name}_temp_path {runtime_dir}/{name};"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ]
    if resolver is not None:
        lines += [f"  resolver {resolver} valid=10s ipv6=off;"]
    lines += [
        "  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }",
        "  server {",
        f"    listen {listen};",
        # nginx's default (1 MB) would refuse webhooks (up to 5 MB) and catalog bodies the
        # units take; the units bound bodies themselves (backend.server.requestBodyLimit).
        "    client_max_body_size 10m;",
        "    proxy_http_version 1.1;",
        "    proxy_set_header Host $http_host;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_set_header Upgrade $http_upgrade;",
        "    proxy_set_header Connection $connection_upgrade;",
    ]
    for unit in topology.units:
        if unit in placement.values():
            lines += [f'    set {_var(unit)} "{upstream(unit)}";']
    for plugin_id, unit in sorted(placement.items()):
        # Exact match and the sub-tree: /api/catalog and /api/catalog/..., never /api/catalogue.
        # No URI part on proxy_pass: the request path and query reach the unit unchanged.
        lines += [
            f"    location = /api/{plugin_id} {{ proxy_pass http://{_var(unit)}; }}",
            f"    location /api/{plugin_id}/ {{ proxy_pass http://{_var(unit)}; }}",
        ]
    not_found = json.dumps(
        {"error": {"name": "NotFoundError", "message": "No unit hosts this path"}}
    )
    json_404 = ["      default_type application/json;", f"      return 404 '{not_found}';", "    }"]
    index_unit = placement.get(INDEX_PLUGIN)
    if index_unit is None:
        lines += ["    location / {", *json_404]
    else:
        # The app plugin serves every path outside /api (its frontend's own routes), as the
        # index plugin of a backend does; an /api path no unit hosts stays a JSON 404.
        lines += ["    location /api/ {", *json_404]
        lines += [f"    location / {{ proxy_pass http://{_var(index_unit)}; }}"]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def helm_unit(unit: UnitSpec) -> dict[str, Any]:
    """A unit as the chart's `units` lists it: its name, plugins, and role unless `all`."""
    entry: dict[str, Any] = {"name": unit.name, "plugins": list(unit.plugins)}
    if unit.role != "all":
        entry["role"] = unit.role
    return entry


def render_helm_units(topology: Topology) -> str:
    """The generated block of the chart's values.yaml, between its markers: `units`, and
    `plugins` with what each calls (`requires`, from which the chart derives which units
    may reach which in its NetworkPolicies)."""
    units = [helm_unit(unit) for unit in topology.units.values()]
    plugins = {
        spec.id: {"requires": list(spec.requires)}
        for spec in sorted(topology.plugins.values(), key=lambda spec: spec.id)
    }
    body = yaml.safe_dump(
        {"units": units, "plugins": plugins}, sort_keys=False, default_flow_style=None
    )
    return f"{_UNITS_BEGIN} {_HEADER}\n{body}{_UNITS_END}"


def replace_helm_units(values_text: str, topology: Topology, *, source: str) -> str:
    """`values_text` with its generated `units:` block replaced by the topology's."""
    if not _UNITS_BLOCK.search(values_text):
        raise InputError(
            f"{source} has no generated units block ('{_UNITS_BEGIN}' ... '{_UNITS_END}')"
        )
    block = render_helm_units(topology)
    return _UNITS_BLOCK.sub(lambda _: block, values_text, count=1)


def render_compose_nginx(topology: Topology) -> str:
    """The proxy's config in Compose: units by service name through Compose's DNS."""
    return render_nginx(
        topology, upstream=lambda unit: f"{unit}:{UNIT_PORT}", resolver="127.0.0.11"
    )


def render_project(topology: Topology, root: Path) -> list[Path]:
    """Write every file generated from the topology under `root`; the ones that changed."""
    values_path = root / HELM_VALUES_PATH
    outputs = {
        COMPOSE_CONFIG_PATH: render_compose_config(topology),
        NGINX_CONFIG_PATH: render_compose_nginx(topology),
    }
    if values_path.is_file():
        outputs[HELM_VALUES_PATH] = replace_helm_units(
            values_path.read_text(), topology, source=str(HELM_VALUES_PATH)
        )
    changed = []
    for path, text in outputs.items():
        file = root / path
        if file.is_file() and file.read_text() == text:
            continue
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
        changed.append(path)
    return changed
