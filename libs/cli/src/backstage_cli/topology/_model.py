"""The topology: which deployment unit hosts which plugin, and what each plugin requires."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from backstage_common.errors import InputError
from backstage_common.worker_role import WorkerRole

__all__ = [
    "DEFAULT_TOPOLOGY_PATH",
    "TOPOLOGY_ENV",
    "PluginSpec",
    "Topology",
    "UnitSpec",
    "find_topology",
    "load_topology",
    "parse_topology",
]

DEFAULT_TOPOLOGY_PATH = Path("deploy/topology.yaml")
TOPOLOGY_ENV = "BACKSTAGE_TOPOLOGY"

# A unit name becomes a DNS label (a Compose service, `<release>-backstage-py-<unit>` in
# Kubernetes, which must fit 63 characters), so it is short and lower-case.
_UNIT_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$")
_PLUGIN_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_ROLES: dict[object, WorkerRole] = {"all": "all", "serve": "serve", "background": "background"}


@dataclass(frozen=True)
class PluginSpec:
    """A plugin the deployment runs: its id, the distribution that provides it, and the
    plugins it calls (which must be hosted somewhere)."""

    id: str
    package: str | None = None
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitSpec:
    """A deployment unit, the plugins it hosts and its `role` (`backend.worker.role`):
    `all` by default; `serve` and `background` split a plugin's requests and its
    background work (the catalog's processing) across two units."""

    name: str
    plugins: tuple[str, ...]
    role: WorkerRole = "all"

    @property
    def serves(self) -> bool:
        """Whether requests for its plugins are routed to it."""
        return self.role != "background"


@dataclass(frozen=True)
class Topology:
    """Units in file order, plugins by id; `source` names the file for messages."""

    plugins: Mapping[str, PluginSpec]
    units: Mapping[str, UnitSpec]
    source: str = "topology"

    def hosts_of(self, plugin_id: str) -> list[str]:
        """The units hosting `plugin_id`, in file order (exactly one in a valid topology)."""
        return [unit.name for unit in self.units.values() if plugin_id in unit.plugins]

    def host_of(self, plugin_id: str) -> str:
        """The unit serving `plugin_id`; InputError unless exactly one does."""
        hosts = self.serving_hosts_of(plugin_id)
        if len(hosts) != 1:
            raise InputError(
                f"Plugin '{plugin_id}' is hosted by {len(hosts)} units in {self.source}"
            )
        return hosts[0]

    def serving_hosts_of(self, plugin_id: str) -> list[str]:
        """The units serving `plugin_id`'s requests (not of role `background`)."""
        return [name for name in self.hosts_of(plugin_id) if self.units[name].serves]

    def placement(self) -> dict[str, str]:
        """Plugin id to the unit serving it, for every plugin served by exactly one unit:
        where discovery, the proxy and the Ingress send its requests."""
        return {
            plugin_id: hosts[0]
            for plugin_id in self.plugin_ids()
            if len(hosts := self.serving_hosts_of(plugin_id)) == 1
        }

    def plugin_ids(self) -> list[str]:
        """Every plugin named anywhere: declared ones first, then ones only units name."""
        ids = list(self.plugins)
        for unit in self.units.values():
            ids += [p for p in unit.plugins if p not in ids]
        return ids

    def _split_problems(self, plugin_id: str, hosts: list[str]) -> list[str]:
        """A plugin hosted by several units: only a unit of role `serve` and one of role
        `background` may share it."""
        roles = sorted(self.units[name].role for name in hosts)
        if roles == ["background", "serve"]:
            return []
        return [
            f"{self.source}: plugin '{plugin_id}' is hosted by {len(hosts)} units "
            f"({', '.join(hosts)}); a plugin runs in exactly one unit, or in one unit of "
            "role serve and one of role background"
        ]

    def problems(self) -> list[str]:
        """What makes this topology unusable, one sentence each; empty when it is valid."""
        found: list[str] = []
        for plugin_id in self.plugin_ids():
            hosts = self.hosts_of(plugin_id)
            if plugin_id not in self.plugins:
                found.append(
                    f"{self.source}: unit '{hosts[0]}' hosts plugin '{plugin_id}', which is not "
                    "declared under 'plugins'"
                )
            if not hosts:
                found.append(
                    f"{self.source}: plugin '{plugin_id}' is hosted by no unit; add it to the "
                    "plugins of exactly one unit"
                )
            elif len(hosts) > 1:
                found += self._split_problems(plugin_id, hosts)
            if len(hosts) == 1 and self.units[hosts[0]].role != "all":
                role = self.units[hosts[0]].role
                other = "background" if role == "serve" else "serve"
                found.append(
                    f"{self.source}: plugin '{plugin_id}' is hosted only by unit '{hosts[0]}' "
                    f"of role {role}; add a unit of role {other} hosting it"
                )
        for plugin in self.plugins.values():
            for required in plugin.requires:
                if not self.hosts_of(required):
                    found.append(
                        f"{self.source}: plugin '{plugin.id}' requires plugin '{required}', "
                        "which no unit hosts"
                    )
        return found


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _names(value: object, where: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where} must be a list of {what}s")
    for name in value:
        if not pattern.match(name):
            raise InputError(f"{where}: '{name}' is not a valid {what}")
    return tuple(value)


def _parse_plugin(plugin_id: str, raw: object, source: str) -> PluginSpec:
    where = f"{source}: plugins.{plugin_id}"
    if not _PLUGIN_ID.match(plugin_id):
        raise InputError(f"{source}: '{plugin_id}' is not a valid plugin id (kebab-case)")
    body = _mapping(raw, where)
    unknown = sorted(set(body) - {"package", "requires"})
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; use package, requires")
    package = body.get("package")
    if package is not None and not isinstance(package, str):
        raise InputError(f"{where}.package must be a string")
    requires = _names(body.get("requires"), f"{where}.requires", _PLUGIN_ID, "plugin id")
    return PluginSpec(id=plugin_id, package=package, requires=requires)


def _parse_unit(name: str, raw: object, source: str) -> UnitSpec:
    where = f"{source}: units.{name}"
    if not _UNIT_NAME.match(name):
        raise InputError(
            f"{source}: unit name '{name}' must be a DNS label of at most 30 characters "
            "(lower-case letters, digits and '-')"
        )
    body = _mapping(raw, where)
    unknown = sorted(set(body) - {"plugins", "role"})
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; use plugins, role")
    plugins = _names(body.get("plugins"), f"{where}.plugins", _PLUGIN_ID, "plugin id")
    if len(set(plugins)) != len(plugins):
        raise InputError(f"{where}.plugins names a plugin twice")
    role = body.get("role", "all")
    if role not in _ROLES:
        raise InputError(f"{where}.role must be one of all, serve, background")
    return UnitSpec(name=name, plugins=plugins, role=_ROLES[role])


def parse_topology(data: object, *, source: str = "topology") -> Topology:
    """A topology from its YAML data; InputError naming the key when the shape is wrong."""
    body = _mapping(data, source)
    unknown = sorted(set(body) - {"plugins", "units"})
    if unknown:
        raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}; use plugins, units")
    plugins = {
        str(pid): _parse_plugin(str(pid), raw, source)
        for pid, raw in _mapping(body.get("plugins"), f"{source}: plugins").items()
    }
    units = {
        str(name): _parse_unit(str(name), raw, source)
        for name, raw in _mapping(body.get("units"), f"{source}: units").items()
    }
    if not units:
        raise InputError(f"{source}: declares no units")
    return Topology(plugins=plugins, units=units, source=source)


def load_topology(path: Path) -> Topology:
    """The topology in the YAML file `path`."""
    try:
        text = path.read_text()
    except OSError as error:
        raise InputError(f"Cannot read topology file {path}: {error.strerror}") from error
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as error:
        raise InputError(f"Topology file {path} is not valid YAML: {error}") from error
    return parse_topology(data, source=str(path))


def find_topology(
    explicit: Path | None, *, project_root: Path | None, env: Mapping[str, str] | None = None
) -> Path | None:
    """The topology file to use: `explicit`, else `$BACKSTAGE_TOPOLOGY`, else
    `deploy/topology.yaml` under the project root when it exists."""
    if explicit is not None:
        return explicit
    value = (os.environ if env is None else env).get(TOPOLOGY_ENV, "").strip()
    if value:
        return Path(value)
    if project_root is not None and (project_root / DEFAULT_TOPOLOGY_PATH).is_file():
        return project_root / DEFAULT_TOPOLOGY_PATH
    return None
