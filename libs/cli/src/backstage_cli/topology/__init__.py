"""The deployment topology (`deploy/topology.yaml`): which unit hosts which plugin.

A unit named in the topology hosts the plugins listed for it, loaded by id from the
`backstage.plugins` entry-point group. The files derived from the topology (the Compose
discovery config, the proxy's nginx.conf, the chart's default units) are written by
`backstage-py topology render` and verified by `backstage-py topology check`.
"""

from backstage_cli.topology._check import (
    COMPOSE_FILE,
    check_compose,
    check_helm_values,
    check_installed,
    check_project,
    check_unit_configs,
    compose_unit_services,
)
from backstage_cli.topology._model import (
    DEFAULT_TOPOLOGY_PATH,
    TOPOLOGY_ENV,
    PluginSpec,
    Topology,
    UnitSpec,
    find_topology,
    load_topology,
    parse_topology,
)
from backstage_cli.topology._plugins import (
    PLUGIN_ENTRY_POINT_GROUP,
    installed_plugins,
    load_plugin,
    unit_features,
)
from backstage_cli.topology._render import (
    COMPOSE_CONFIG_PATH,
    HELM_VALUES_PATH,
    NGINX_CONFIG_PATH,
    UNIT_PORT,
    compose_discovery_config,
    compose_unit_url,
    render_compose_config,
    render_compose_nginx,
    render_helm_units,
    render_nginx,
    render_project,
    replace_helm_units,
)

__all__ = [
    "COMPOSE_CONFIG_PATH",
    "COMPOSE_FILE",
    "DEFAULT_TOPOLOGY_PATH",
    "HELM_VALUES_PATH",
    "NGINX_CONFIG_PATH",
    "PLUGIN_ENTRY_POINT_GROUP",
    "TOPOLOGY_ENV",
    "UNIT_PORT",
    "PluginSpec",
    "Topology",
    "UnitSpec",
    "check_compose",
    "check_helm_values",
    "check_installed",
    "check_project",
    "check_unit_configs",
    "compose_discovery_config",
    "compose_unit_services",
    "compose_unit_url",
    "find_topology",
    "installed_plugins",
    "load_plugin",
    "load_topology",
    "parse_topology",
    "render_compose_config",
    "render_compose_nginx",
    "render_helm_units",
    "render_nginx",
    "render_project",
    "replace_helm_units",
    "unit_features",
]
