"""The Helm chart, rendered by the real Helm engine (helm-python-sdk, no binary) and every
manifest validated against a current Kubernetes API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from backstage_backend_defaults.discovery import HostDiscovery
from backstage_cli.topology import check_helm_values, parse_topology
from backstage_common.config import Config

from ._support import REPO_ROOT, topology

CHART = REPO_ROOT / "deploy/helm/backstage-py"
VALUE_SETS = sorted(
    path.name.removesuffix("-values.yaml") for path in (CHART / "ci").glob("*-values.yaml")
)
KUBERNETES = kubernetes_validate.latest_version()
RELEASE, NAMESPACE = "rel", "bs"
SECRET_ENV = re.compile(r"PASSWORD|TOKEN|CACHE_URL|SECRET", re.I)


def values_of(name: str) -> dict[str, Any]:
    return yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text()) or {}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    return [
        doc
        for path, text in sorted(out.items())
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def units_of(values: dict[str, Any]) -> list[dict[str, Any]]:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    units = values.get("units", defaults["units"])
    return [{**defaults["unitDefaults"], **values.get("unitDefaults", {}), **u} for u in units]


def service_name(unit: str) -> str:
    return f"{RELEASE}-backstage-py-{unit}"


def containers(deployment: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from deployment["spec"]["template"]["spec"]["containers"]


@pytest.fixture(scope="module", params=VALUE_SETS)
def rendered(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = values_of(request.param)
    return values, render(values)


def test_the_value_sets_include_the_three_shapes() -> None:
    assert {"default", "all-in-one", "per-plugin"} <= set(VALUE_SETS)
    assert values_of("per-plugin")["unitDefaults"]["replicas"] == 3
    assert [u["plugins"] for u in values_of("all-in-one")["units"]] == [["catalog", "search"]]


def test_the_default_units_are_the_topology() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert check_helm_values(topology(), values, source="values.yaml") == []


@pytest.mark.parametrize("name", VALUE_SETS)
def test_the_chart_lints_clean(name: str) -> None:
    result = helm.lint(str(CHART), values_of(name), strict=True, kube_version=KUBERNETES)
    assert result["errors"] == []


def test_every_manifest_is_valid_for_a_current_kubernetes(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    assert "Secret" not in {doc["kind"] for doc in docs}


def test_every_plugin_is_routed_to_exactly_one_service_of_the_unit_hosting_it(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    values, docs = rendered
    units = units_of(values)
    services = by_kind(docs, "Service")
    deployments = by_kind(docs, "Deployment")
    (ingress,) = by_kind(docs, "Ingress").values()
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    routes = {p["path"]: p["backend"]["service"]["name"] for p in paths}
    assert len(routes) == len(paths)
    assert {p["pathType"] for p in paths} == {"Prefix"}
    expected = {f"/api/{plugin}": service_name(u["name"]) for u in units for plugin in u["plugins"]}
    assert routes == expected
    for name in set(routes.values()):
        service = services[name]
        assert service["spec"]["ports"][0]["name"] == "http"
        # The Service selects exactly its unit's pods.
        selector = service["spec"]["selector"]
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        others = [d for n, d in deployments.items() if n != name]
        assert all(
            not selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
            for d in others
        )


async def test_every_unit_discovers_each_plugin_at_the_service_of_its_host(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    values, docs = rendered
    units = units_of(values)
    config_maps = by_kind(docs, "ConfigMap")
    host = {plugin: u["name"] for u in units for plugin in u["plugins"]}
    ingress = {
        **yaml.safe_load((CHART / "values.yaml").read_text())["ingress"],
        **values.get("ingress", {}),
    }
    public = f"{'https' if ingress['tls']['enabled'] else 'http'}://{ingress['host']}"
    for unit in units:
        data = config_maps[service_name(unit["name"])]["data"]
        app_config = yaml.safe_load(data["app-config.unit.yaml"])
        # The unit's own discovery service, reading this config, finds every plugin.
        config = Config.from_data(
            {**app_config, "backend": {**app_config["backend"], "baseUrl": "https://b.test"}}
        )
        discovery = HostDiscovery(config)
        for plugin, hosting in host.items():
            url = f"http://{service_name(hosting)}.{NAMESPACE}.svc:7007/api/{plugin}"
            assert await discovery.get_base_url(plugin) == url
            assert await discovery.get_external_base_url(plugin) == f"{public}/api/{plugin}"
        # The plugins it starts come from the topology file in the same ConfigMap.
        plan = parse_topology(yaml.safe_load(data["topology.yaml"]))
        assert plan.problems() == []
        assert list(plan.units[unit["name"]].plugins) == unit["plugins"]
        assert "dangerouslyDisableDefaultAuthPolicy" not in data["app-config.unit.yaml"]
        # The unit listens where its Service and probes point.
        deployment = by_kind(docs, "Deployment")[service_name(unit["name"])]
        (port,) = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
        assert app_config["backend"]["listen"]["port"] == port["containerPort"]


def test_no_secret_value_reaches_a_config_map(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    for deployment in by_kind(docs, "Deployment").values():
        for container in containers(deployment):
            for env in container["env"]:
                if SECRET_ENV.search(env["name"]):
                    assert "value" not in env, env["name"]
                    assert set(env["valueFrom"]) == {"secretKeyRef"}
    for config_map in by_kind(docs, "ConfigMap").values():
        text = yaml.safe_dump(config_map["data"])
        assert not re.search(r"(?i)(password|token|secret)\s*:", text), text


def test_pods_are_hardened_probed_and_given_time_to_drain(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    values, docs = rendered
    backend = yaml.safe_load((CHART / "values.yaml").read_text())["backend"]
    for unit in units_of(values):
        deployment = by_kind(docs, "Deployment")[service_name(unit["name"])]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["automountServiceAccountToken"] is False
        grace = backend["shutdownDelaySeconds"] + backend["shutdownTimeoutSeconds"] + 10
        assert pod["terminationGracePeriodSeconds"] == grace
        (container,) = pod["containers"]
        assert container["args"][:3] == ["start", "--unit", unit["name"]]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["BACKSTAGE_SHUTDOWN_DELAY"] == f"{backend['shutdownDelaySeconds']}s"
        assert container["readinessProbe"]["httpGet"]["path"] == "/.backstage/health/v1/readiness"
        assert container["startupProbe"]["httpGet"]["path"] == "/.backstage/health/v1/readiness"
        assert container["livenessProbe"]["httpGet"]["path"] == "/.backstage/health/v1/liveness"
        autoscaled = unit["autoscaling"]["enabled"]
        assert ("replicas" in deployment["spec"]) is not autoscaled
        assert (
            service_name(unit["name"]) in by_kind(docs, "HorizontalPodAutoscaler")
        ) is autoscaled
        replicas = unit["autoscaling"]["minReplicas"] if autoscaled else unit["replicas"]
        has_pdb = service_name(unit["name"]) in by_kind(docs, "PodDisruptionBudget")
        assert has_pdb is (replicas > 1)


def test_a_config_change_rolls_only_its_own_unit() -> None:
    def checksums(values: dict[str, Any]) -> dict[str, str]:
        return {
            name: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for name, d in by_kind(render(values), "Deployment").items()
        }

    values = values_of("per-plugin")
    before = checksums(values)
    values["units"][1] = {**values["units"][1], "appConfig": {"search": {"maxPageLimit": 50}}}
    after = checksums(values)
    assert before[service_name("catalog")] == after[service_name("catalog")]
    assert before[service_name("search")] != after[service_name("search")]


WRONG_VALUES = [
    (
        {"units": [{"name": "x", "plugins": ["catalog"], "replica": 2}]},
        "at '/units/0': additional properties 'replica' not allowed",
    ),
    (
        {"units": [{"name": "x", "plugins": "catalog"}]},
        "at '/units/0/plugins': got string, want array",
    ),
    (
        {"unitDefaults": {"replicas": "two"}},
        "at '/unitDefaults/replicas': got string, want integer",
    ),
    (
        {"database": {"existingSecret": {"name": ""}}},
        "at '/database/existingSecret/name': minLength: got 0, want 1",
    ),
    (
        {"cache": {"store": "mongo"}},
        "at '/cache/store': value must be one of 'memory', 'redis', 'valkey', 'memcache'",
    ),
    ({"databse": {}}, "additional properties 'databse' not allowed"),
]


@pytest.mark.parametrize(("values", "message"), WRONG_VALUES)
def test_wrong_values_fail_lint_and_render_with_a_clear_message(
    values: dict[str, Any], message: str
) -> None:
    errors = helm.lint(str(CHART), values, strict=True)["errors"]
    assert any(message in error for error in errors), errors
    with pytest.raises(helm.HelmValuesError, match=re.escape(message)):
        render(values)


def test_a_plugin_in_two_units_fails_the_render_naming_it() -> None:
    values = {
        "units": [{"name": "a", "plugins": ["catalog"]}, {"name": "b", "plugins": ["catalog"]}]
    }
    with pytest.raises(
        helm.HelmRenderError, match='plugin "catalog" is hosted by two units \\(a and b\\)'
    ):
        render(values)


def test_autoscaling_bounds_are_checked() -> None:
    values = {
        "units": [
            {
                "name": "a",
                "plugins": ["catalog"],
                "autoscaling": {"enabled": True, "minReplicas": 4, "maxReplicas": 2},
            }
        ]
    }
    with pytest.raises(
        helm.HelmRenderError, match="minReplicas \\(4\\) is above maxReplicas \\(2\\)"
    ):
        render(values)


def test_the_readme_install_lines_match_the_chart() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    secret_line = next(line for line in readme.splitlines() if "kubectl create secret" in line)
    install = next(line for line in readme.splitlines() if line.startswith("helm install "))
    assert install.startswith("helm install backstage-py deploy/helm/backstage-py ")
    name = secret_line.split("generic ")[1].split()[0]
    keys = set(re.findall(r"--from-literal=([\w-]+)=", readme))
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    refs = [defaults[block]["existingSecret"] for block in ("database", "cache", "externalAccess")]
    assert {ref["name"] for ref in refs} == {name}
    assert {ref["key"] for ref in refs} == keys
    values: dict[str, Any] = {}
    for setting in re.findall(r"--set (\S+)", install):
        path, value = setting.split("=", 1)
        *parents, leaf = path.split(".")
        target = values
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    docs = render(values)
    assert by_kind(docs, "Ingress")
