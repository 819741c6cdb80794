"""The topology: where each plugin runs, the checks that keep derived files in line, and
units that load their plugins from it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from backstage_backend_plugin_api import BackendModule, BackendPlugin
from backstage_cli import main
from backstage_cli.topology import (
    COMPOSE_CONFIG_PATH,
    HELM_VALUES_PATH,
    NGINX_CONFIG_PATH,
    check_project,
    compose_discovery_config,
    load_plugin,
    load_topology,
    parse_topology,
    render_project,
    unit_features,
)
from backstage_cli.units import Unit, load_unit
from backstage_common.errors import InputError
from click.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parents[3]
TOPOLOGY = Path("deploy/topology.yaml")
COMPOSE = Path("docker-compose.yml")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the repository's topology and of every file derived from it."""
    for path in (TOPOLOGY, COMPOSE, COMPOSE_CONFIG_PATH, NGINX_CONFIG_PATH, HELM_VALUES_PATH):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / path, tmp_path / path)
    (tmp_path / "app-config.yaml").write_text("backend: {baseUrl: 'http://localhost:7007'}\n")
    return tmp_path


def write_topology(root: Path, text: str) -> None:
    (root / TOPOLOGY).write_text(text)


def edit_yaml(path: Path, change: object) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def check(root: Path) -> list[str]:
    return check_project(load_topology(root / TOPOLOGY), root)


def test_the_repository_topology_and_every_derived_file_agree() -> None:
    result = CliRunner().invoke(main, ["topology", "check", "--root", str(REPO_ROOT)])
    assert result.exit_code == 0, result.output
    repository = load_topology(REPO_ROOT / TOPOLOGY)
    counts = f"{len(repository.units)} unit(s), {len(repository.plugins)} plugin(s)"
    assert f"topology OK: {counts}" in result.output
    topology = load_topology(REPO_ROOT / TOPOLOGY)
    # every plugin in a unit of its own, the app (the frontend) included
    assert topology.placement() == {plugin: plugin for plugin in topology.plugins}
    assert {"app", "catalog", "search"} <= set(topology.placement())
    assert topology.plugins["search"].requires == ("catalog",)


def test_a_plugin_hosted_by_no_unit_fails_the_check(project: Path) -> None:
    write_topology(
        project,
        "plugins: {catalog: {}, search: {}}\nunits: {catalog: {plugins: [catalog]}, "
        "search: {plugins: []}}\n",
    )
    problems = check(project)
    assert problems == [
        f"{project / TOPOLOGY}: plugin 'search' is hosted by no unit; add it to the plugins "
        "of exactly one unit"
    ]
    result = CliRunner().invoke(main, ["topology", "check", "--root", str(project)])
    assert result.exit_code == 1
    assert "plugin 'search' is hosted by no unit" in result.output
    assert "1 problem(s) with the topology" in result.output


def test_a_plugin_hosted_by_two_units_fails_the_check(project: Path) -> None:
    write_topology(
        project,
        "plugins: {catalog: {}, search: {}}\nunits: {catalog: {plugins: [catalog]}, "
        "search: {plugins: [search, catalog]}}\n",
    )
    assert check(project) == [
        f"{project / TOPOLOGY}: plugin 'catalog' is hosted by 2 units (catalog, search); "
        "a plugin runs in exactly one unit, or in one unit of role serve and one of role "
        "background"
    ]


def test_a_required_plugin_hosted_nowhere_fails_the_check(project: Path) -> None:
    write_topology(
        project, "plugins: {search: {requires: [catalog]}}\nunits: {search: {plugins: [search]}}\n"
    )
    assert check(project) == [
        f"{project / TOPOLOGY}: plugin 'search' requires plugin 'catalog', which no unit hosts"
    ]


def test_a_unit_hosting_an_undeclared_plugin_fails_the_check(project: Path) -> None:
    write_topology(
        project,
        "plugins: {catalog: {}}\nunits: {catalog: {plugins: [catalog]}, "
        "search: {plugins: [search]}}\n",
    )
    assert check(project) == [
        f"{project / TOPOLOGY}: unit 'search' hosts plugin 'search', which is not declared "
        "under 'plugins'"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("units: {Catalog: {plugins: [catalog]}}", "unit name 'Catalog' must be a DNS label"),
        ("units: {catalog: {plugins: catalog}}", "units.catalog.plugins must be a list"),
        ("units: {catalog: {plugin: [catalog]}}", "units.catalog: unknown key(s) plugin"),
        ("plugins: {catalog: {needs: [x]}}\nunits: {a: {}}", "unknown key(s) needs"),
        ("plugins: {}", "declares no units"),
        ("units: [catalog]", "units must be a mapping, got list"),
    ],
)
def test_a_malformed_topology_is_rejected_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_topology(yaml.safe_load(text), source="t.yaml")
    assert message in str(raised.value)


def test_compose_without_a_service_for_a_unit_fails_the_check(project: Path) -> None:
    edit_yaml(project / COMPOSE, lambda data: data["services"].pop("search"))
    problems = check(project)
    assert problems == [
        "docker-compose.yml: no service 'search' with BACKSTAGE_UNIT: search for unit 'search'"
    ]


def test_compose_running_a_unit_under_another_name_or_an_unknown_unit_fails(project: Path) -> None:
    def rename(data: dict) -> None:  # type: ignore[type-arg]
        data["services"]["search"]["environment"]["BACKSTAGE_UNIT"] = "catalog"
        data["services"]["extra"] = {"environment": {"BACKSTAGE_UNIT": "scaffolder"}}

    edit_yaml(project / COMPOSE, rename)
    problems = check(project)
    assert (
        "docker-compose.yml: service 'search' runs unit 'catalog'; name the service 'catalog', "
        "since discovery reaches a unit by its service name"
    ) in problems
    assert (
        "docker-compose.yml: service 'extra' runs unit 'scaffolder', which the topology does "
        "not declare"
    ) in problems
    assert (
        "docker-compose.yml: no service 'search' with BACKSTAGE_UNIT: search for unit 'search'"
        in problems
    )


def test_compose_proxy_or_unit_without_health_gates_fails_the_check(project: Path) -> None:
    def loosen(data: dict) -> None:  # type: ignore[type-arg]
        data["services"]["proxy"]["depends_on"]["search"] = {"condition": "service_started"}
        del data["services"]["catalog"]["healthcheck"]

    edit_yaml(project / COMPOSE, loosen)
    problems = check(project)
    assert "docker-compose.yml: service 'catalog' has no healthcheck on its readiness" in problems
    assert (
        "docker-compose.yml: the proxy 'proxy' does not wait for unit 'search' to be healthy"
        in problems
    )


def test_a_unit_config_sending_a_plugin_elsewhere_fails_the_check(project: Path) -> None:
    def misroute(data: dict) -> None:  # type: ignore[type-arg]
        (catalog,) = [e for e in data["discovery"]["endpoints"] if e["plugins"] == ["catalog"]]
        catalog["target"]["internal"] = "http://search:7007/api/{{pluginId}}"

    edit_yaml(project / COMPOSE_CONFIG_PATH, misroute)
    problems = check(project)
    assert (
        f"{COMPOSE_CONFIG_PATH}: unit 'catalog' sends plugin 'catalog' to "
        "http://search:7007/api/catalog, but the topology hosts it in unit 'catalog' "
        "(http://catalog:7007/api/catalog)"
    ) in problems
    assert (
        f"{COMPOSE_CONFIG_PATH} does not match the topology; run `backstage-py topology render`"
        in problems
    )


def test_a_unit_overlay_routing_or_listening_elsewhere_fails_the_check(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overlay = project / "app-config.search.yaml"
    overlay.write_text(
        "backend:\n  listen: {port: 7008}\n"
        "discovery:\n  endpoints:\n"
        "    - {target: 'http://localhost:7010/api/{{pluginId}}', plugins: [catalog, search]}\n"
    )

    def units(name: str, *, extra_names: list[str]) -> Unit:
        return Unit(name=name, config_overlay=overlay if name == "search" else None)

    monkeypatch.setattr("backstage_cli.topology._check.load_unit", units)
    problems = check(project)
    assert problems[0] == (
        f"{overlay}: unit 'search' listens on port 7008; Compose, nginx and the chart reach "
        "every unit on port 7007"
    )
    # the topology's other plugins, which the overlay leaves out, are found missing too
    placement = load_topology(REPO_ROOT / TOPOLOGY).placement()
    others = sorted(set(placement) - {"catalog", "search"})
    assert sorted(problems[1:]) == sorted(
        [
            f"{overlay}: unit 'search' sends plugin 'catalog' to "
            "http://localhost:7010/api/catalog, but the topology hosts it in unit 'catalog' "
            "(http://catalog:7007/api/catalog)",
            f"{overlay}: unit 'search' sends plugin 'search' to "
            "http://localhost:7010/api/search, but the topology hosts it in unit 'search' "
            "(http://search:7007/api/search)",
            *(
                f"{overlay}: unit 'search' sends plugin '{plugin}' to itself, but the topology "
                f"hosts it in unit '{placement[plugin]}' "
                f"(http://{placement[plugin]}:7007/api/{plugin})"
                for plugin in others
            ),
        ]
    )


def test_stale_proxy_config_and_chart_units_fail_the_check(project: Path) -> None:
    nginx = project / NGINX_CONFIG_PATH
    nginx.write_text(nginx.read_text().replace("set $unit_search", "set $unit_searchx"))
    values = project / HELM_VALUES_PATH
    values.write_text(values.read_text().replace("plugins: [search]", "plugins: [catalog]"))
    problems = check(project)
    assert (
        f"{NGINX_CONFIG_PATH} does not match the topology; run `backstage-py topology render`"
        in problems
    )
    shown = "; ".join(
        f"{unit.name}: {'catalog' if unit.name == 'search' else ', '.join(unit.plugins)}"
        for unit in load_topology(REPO_ROOT / TOPOLOGY).units.values()
    )
    assert (
        f"{HELM_VALUES_PATH}: units ({shown}) disagree with the "
        "topology; run `backstage-py topology render`"
    ) in problems


def test_moving_a_plugin_is_an_edit_of_the_topology_then_render(project: Path) -> None:
    write_topology(
        project,
        (REPO_ROOT / TOPOLOGY)
        .read_text()
        .replace("    plugins: [catalog]", "    plugins: [catalog, search]")
        .replace("    plugins: [search]", "    plugins: []"),
    )
    assert (
        f"{NGINX_CONFIG_PATH} does not match the topology; run `backstage-py topology render`"
        in check(project)
    )
    result = CliRunner().invoke(main, ["topology", "render", "--root", str(project)])
    assert result.exit_code == 0, result.output
    assert f"wrote {NGINX_CONFIG_PATH}" in result.output
    assert check(project) == []
    nginx = (project / NGINX_CONFIG_PATH).read_text()
    assert "location /api/search/ { proxy_pass http://$unit_catalog; }" in nginx
    values = yaml.safe_load((project / HELM_VALUES_PATH).read_text())
    moved = {"catalog": ["catalog", "search"], "search": []}
    assert values["units"] == [
        {"name": unit.name, "plugins": moved.get(unit.name, list(unit.plugins))}
        for unit in load_topology(REPO_ROOT / TOPOLOGY).units.values()
    ]
    assert render_project(load_topology(project / TOPOLOGY), project) == []


def test_discovery_is_derived_for_any_unit_addresses() -> None:
    topology = load_topology(REPO_ROOT / TOPOLOGY)
    composed = yaml.safe_load((REPO_ROOT / COMPOSE_CONFIG_PATH).read_text())
    assert compose_discovery_config(topology) == composed
    ports = {name: 7101 + index for index, name in enumerate(topology.units)}
    local = compose_discovery_config(topology, unit_url=lambda u: f"http://127.0.0.1:{ports[u]}")
    endpoints = {
        endpoint["target"]["internal"]: endpoint["plugins"]
        for endpoint in local["discovery"]["endpoints"]
    }
    assert endpoints[f"http://127.0.0.1:{ports['catalog']}/api/{{{{pluginId}}}}"] == ["catalog"]
    assert endpoints[f"http://127.0.0.1:{ports['search']}/api/{{{{pluginId}}}}"] == ["search"]
    assert len(endpoints) == len(topology.units)


def test_a_unit_in_the_topology_loads_its_plugins_through_entry_points() -> None:
    topology = load_topology(REPO_ROOT / TOPOLOGY)
    unit = load_unit("catalog", extra_names=list(topology.units))
    assert unit.features is None
    features = unit_features(unit, topology)
    # the catalog, with the catalog modules installed here
    assert {feature.plugin_id for feature in features} == {"catalog"}  # type: ignore[union-attr]
    assert isinstance(features[0], BackendPlugin)
    assert any(isinstance(feature, BackendModule) for feature in features)
    # A unit the topology does not name (the all-in-one unit) keeps its package's plugins.
    all_in_one = load_unit("all")
    assert all_in_one.features is not None
    hosted = [f.plugin_id for f in unit_features(all_in_one, topology)]  # type: ignore[union-attr]
    assert hosted == [f.plugin_id for f in all_in_one.features()]  # type: ignore[union-attr]
    # A unit the topology declares needs no package of its own.
    bare = load_unit("reports", extra_names=["reports"])
    assert bare == Unit(name="reports")


REPORTS_TOPOLOGY = """\
plugins:
  catalog: {}
  reports: {package: backstage-plugin-reports-backend, requires: [catalog]}
units:
  catalog: {plugins: [catalog]}
  reports: {plugins: [reports]}
"""


def test_a_missing_plugin_package_is_a_clear_error() -> None:
    topology = parse_topology(yaml.safe_load(REPORTS_TOPOLOGY), source="t.yaml")
    with pytest.raises(InputError) as raised:
        unit_features(load_unit("reports", extra_names=["reports"]), topology)
    message = str(raised.value)
    assert message.startswith(
        "Plugin 'reports' is not installed: no entry point 'reports' in the group "
        "'backstage.plugins'; install the package 'backstage-plugin-reports-backend' "
        "(installed plugins: "
    )
    assert "catalog" in message.rsplit("(", 1)[1]
    with pytest.raises(InputError, match="no unit 'all'"):
        unit_features(Unit(name="all"), topology)
    with pytest.raises(InputError, match="no topology file was found"):
        unit_features(Unit(name="catalog"), None)
    assert {feature.plugin_id for feature in load_plugin("catalog")} == {"catalog"}  # type: ignore[union-attr]


def test_start_names_the_missing_plugin_and_exits_1(tmp_path: Path) -> None:
    topology = tmp_path / "topology.yaml"
    topology.write_text(REPORTS_TOPOLOGY)
    # The unit and the topology come from the environment, as in the container image.
    env = {"BACKSTAGE_UNIT": "reports", "BACKSTAGE_TOPOLOGY": str(topology)}
    result = CliRunner().invoke(main, ["start"], env=env)
    assert result.exit_code == 1
    assert "Plugin 'reports' is not installed" in result.output
    assert "install the package 'backstage-plugin-reports-backend'" in result.output


def test_check_installed_names_plugins_missing_here(project: Path) -> None:
    write_topology(project, REPORTS_TOPOLOGY)
    args = ["topology", "check", "--installed", "--root", str(project)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert (
        "plugin 'reports' is not installed (no 'backstage.plugins' entry point; install "
        "'backstage-plugin-reports-backend')"
    ) in result.output


def test_start_rejects_an_invalid_topology(tmp_path: Path) -> None:
    bad = tmp_path / "topology.yaml"
    bad.write_text(
        "plugins: {catalog: {}}\nunits: {a: {plugins: [catalog]}, b: {plugins: [catalog]}}\n"
    )
    result = CliRunner().invoke(main, ["start", "--unit", "a", "--topology", str(bad)])
    assert result.exit_code == 1
    assert "Invalid topology" in result.output
    assert "plugin 'catalog' is hosted by 2 units (a, b)" in result.output


SPLIT = """
plugins: {catalog: {}, search: {requires: [catalog]}}
units:
  catalog: {plugins: [catalog], role: serve}
  catalog-processing: {plugins: [catalog], role: background}
  search: {plugins: [search]}
"""


def test_the_catalog_split_into_a_serving_and_a_processing_unit_passes_the_check(
    project: Path,
) -> None:
    write_topology(project, SPLIT)
    topology = load_topology(project / TOPOLOGY)
    assert topology.problems() == []
    # requests go to the serving unit only: discovery, nginx, the chart
    assert topology.placement() == {"catalog": "catalog", "search": "search"}
    assert topology.host_of("catalog") == "catalog"
    assert topology.hosts_of("catalog") == ["catalog", "catalog-processing"]

    def add_processing(data: dict[str, Any]) -> None:
        services = data["services"]
        services["catalog-processing"] = {
            **services["catalog"],
            "environment": {
                **services["catalog"]["environment"],
                "BACKSTAGE_UNIT": "catalog-processing",
            },
        }
        for name in list(services):
            if name not in ("catalog", "catalog-processing", "search") and "BACKSTAGE_UNIT" in str(
                services[name].get("environment")
            ):
                del services[name]
        services["proxy"]["depends_on"] = {
            "catalog": {"condition": "service_healthy"},
            "search": {"condition": "service_healthy"},
        }

    edit_yaml(project / COMPOSE, add_processing)
    result = CliRunner().invoke(main, ["topology", "render", "--root", str(project)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["topology", "check", "--root", str(project)])
    assert result.exit_code == 0, result.output
    composed = yaml.safe_load((project / COMPOSE_CONFIG_PATH).read_text())
    assert composed["discovery"]["endpoints"] == [
        {"target": {"internal": "http://catalog:7007/api/{{pluginId}}"}, "plugins": ["catalog"]},
        {"target": {"internal": "http://search:7007/api/{{pluginId}}"}, "plugins": ["search"]},
    ]
    values = yaml.safe_load((project / HELM_VALUES_PATH).read_text())
    assert values["units"][:2] == [
        {"name": "catalog", "plugins": ["catalog"], "role": "serve"},
        {"name": "catalog-processing", "plugins": ["catalog"], "role": "background"},
    ]
    assert "catalog-processing" not in (project / NGINX_CONFIG_PATH).read_text()


@pytest.mark.parametrize(
    ("units", "problem"),
    [
        (
            "{a: {plugins: [catalog], role: serve}}",
            "plugin 'catalog' is hosted only by unit 'a' of role serve; add a unit of role "
            "background hosting it",
        ),
        (
            "{a: {plugins: [catalog], role: background}}",
            "plugin 'catalog' is hosted only by unit 'a' of role background; add a unit of "
            "role serve hosting it",
        ),
        (
            "{a: {plugins: [catalog], role: serve}, b: {plugins: [catalog], role: serve}}",
            "plugin 'catalog' is hosted by 2 units (a, b)",
        ),
        (
            "{a: {plugins: [catalog]}, b: {plugins: [catalog], role: background}}",
            "plugin 'catalog' is hosted by 2 units (a, b)",
        ),
    ],
)
def test_roles_that_leave_a_plugin_unserved_or_served_twice_fail(units: str, problem: str) -> None:
    topology = parse_topology(yaml.safe_load(f"plugins: {{catalog: {{}}}}\nunits: {units}\n"))
    [found] = topology.problems()
    assert problem in found


def test_a_unit_role_must_be_a_role() -> None:
    with pytest.raises(InputError, match=r"units\.a\.role must be one of all, serve, background"):
        parse_topology(
            {"plugins": {"catalog": {}}, "units": {"a": {"plugins": ["catalog"], "role": "read"}}}
        )
