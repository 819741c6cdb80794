"""The Helm chart, rendered by the real Helm engine (helm-python-sdk, no binary), every core
manifest validated against a current Kubernetes API and every custom resource (HTTPRoute,
ServiceMonitor) against the schema published with its CRD."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from backstage_backend_defaults.cache import read_store_settings
from backstage_backend_defaults.discovery import HostDiscovery
from backstage_backend_test_utils import npm_ci
from backstage_cli.topology import check_helm_values, parse_topology
from backstage_common.config import Config, load_config

from ._support import REPO_ROOT, topology

CHART = REPO_ROOT / "deploy/helm/backstage-py"
CRD_CHECK = REPO_ROOT / "tests/deploy/crd_check"
CUSTOM_KINDS = {"HTTPRoute", "ServiceMonitor"}
# What every test renders with unless it says otherwise: the project publishes no image.
IMAGE = {"registry": "registry.test", "repository": "backstage-py"}
VALUE_SETS = sorted(
    path.name.removesuffix("-values.yaml") for path in (CHART / "ci").glob("*-values.yaml")
)
KUBERNETES = kubernetes_validate.latest_version()
RELEASE, NAMESPACE = "rel", "bs"
SECRET_ENV = re.compile(r"PASSWORD|TOKEN|CACHE_URL|SECRET", re.I)


def values_of(name: str) -> dict[str, Any]:
    return yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text()) or {}


def render(values: dict[str, Any], *, image: bool = True) -> list[dict[str, Any]]:
    if image and "image" not in values:
        values = {**values, "image": IMAGE}
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
        if doc["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    assert "Secret" not in {doc["kind"] for doc in docs}


@pytest.fixture(scope="module")
def crd_schemas() -> None:
    """`npm ci` of the published CRD models from the committed lock file, once per run."""
    npm_ci(CRD_CHECK, "check custom resources against their CRD schemas")


def crd_errors(docs: list[dict[str, Any]]) -> dict[str, str | None]:
    """`kind/name` of each custom resource to its schema error (None when valid)."""
    result = subprocess.run(
        ["node", "validate.mjs"],
        cwd=CRD_CHECK,
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        check=True,
    )
    return {f"{r['kind']}/{r['name']}": r["error"] for r in json.loads(result.stdout)}


def test_custom_resources_match_the_schemas_published_with_their_crds(
    crd_schemas: None,
) -> None:
    docs = render(values_of("community"))
    custom = [doc for doc in docs if doc["kind"] in CUSTOM_KINDS]
    assert {doc["kind"] for doc in custom} == CUSTOM_KINDS
    for doc in custom:
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    assert crd_errors(custom) == {f"{d['kind']}/{d['metadata']['name']}": None for d in custom}
    # The check can fail: a path match type Gateway API does not know, a scrape interval
    # Prometheus cannot parse.
    route = next(d for d in custom if d["kind"] == "HTTPRoute")
    route["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Prefix"
    monitor = next(d for d in custom if d["kind"] == "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["interval"] = "30 seconds"
    errors = crd_errors(custom)
    assert "path/type must be equal to one of the allowed values" in str(errors)
    assert "interval must match pattern" in str(errors)


def test_every_plugin_is_routed_to_exactly_one_service_of_the_unit_hosting_it(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    values, docs = rendered
    units = units_of(values)
    services = by_kind(docs, "Service")
    deployments = by_kind(docs, "Deployment")
    (ingress,) = by_kind(docs, "Ingress").values()
    # a unit of role background runs its plugins' background work only: no route to it
    serving = [u for u in units if u.get("role") != "background"]
    expected = {f"/api/{p}": service_name(u["name"]) for u in serving for p in u["plugins"]}
    # Every other path is the frontend's, served by the unit hosting the app plugin.
    if "/api/app" in expected:
        expected["/"] = expected["/api/app"]
    # Every host of the Ingress routes every plugin, each once.
    for rule in ingress["spec"]["rules"]:
        paths = rule["http"]["paths"]
        routes = {p["path"]: p["backend"]["service"]["name"] for p in paths}
        assert len(routes) == len(paths)
        assert {p["pathType"] for p in paths} == {"Prefix"}
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
    serving = [u for u in units if u.get("role") != "background"]
    host = {plugin: u["name"] for u in serving for plugin in u["plugins"]}
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
        ports = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
        (port,) = [p for p in ports if p["name"] == "http"]
        assert app_config["backend"]["listen"]["port"] == port["containerPort"]


def test_no_secret_value_reaches_a_config_map(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    for deployment in by_kind(docs, "Deployment").values():
        for container in containers(deployment):
            for env in container.get("env", []):
                if SECRET_ENV.search(env["name"]):
                    assert "value" not in env, env["name"]
                    assert set(env["valueFrom"]) == {"secretKeyRef"}
    for config_map in by_kind(docs, "ConfigMap").values():
        # A secret field holds only a reference to an environment variable.
        for text in config_map["data"].values():
            for value in re.findall(r"(?i)(?:password|token|secret)\w*\s*:\s*(.+)", text):
                assert re.fullmatch(r"['\"]?\$\{[A-Z_]+\}['\"]?", value.strip()), value


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
        container = pod["containers"][0]
        assert container["name"] == "backstage"
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
    # The README's line alone renders: it names the image too.
    docs = render(values, image=False)
    assert by_kind(docs, "Ingress")


def unit_names(values: dict[str, Any]) -> list[str]:
    return [unit["name"] for unit in units_of(values)]


def deployment_of(docs: list[dict[str, Any]], unit: str) -> dict[str, Any]:
    return by_kind(docs, "Deployment")[service_name(unit)]


def pod_of(docs: list[dict[str, Any]], unit: str) -> dict[str, Any]:
    return deployment_of(docs, unit)["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def backstage_container(docs: list[dict[str, Any]], unit: str) -> dict[str, Any]:
    (container,) = [c for c in pod_of(docs, unit)["containers"] if c["name"] == "backstage"]
    return container


def test_the_image_is_the_one_you_pushed_by_tag_or_digest() -> None:
    def image(values: dict[str, Any]) -> str:
        return str(backstage_container(render(values), "catalog")["image"])

    # The project publishes no image: without one the chart says what to set.
    with pytest.raises(
        helm.HelmRenderError, match=re.escape("image.repository must name the image")
    ):
        render({}, image=False)
    assert image({"image": {"repository": "backstage-py"}}) == "backstage-py:0.1.0"
    assert image({"image": {**IMAGE, "tag": "1.2.3"}}) == "registry.test/backstage-py:1.2.3"
    digest = "sha256:" + "ab" * 32
    pinned = {"image": {**IMAGE, "tag": "1.2.3", "digest": digest}}
    assert image(pinned) == f"registry.test/backstage-py@{digest}"
    mirrored = {**pinned, "global": {"imageRegistry": "mirror.test:5000"}}
    assert image(mirrored) == f"mirror.test:5000/backstage-py@{digest}"
    for wrong, message in [
        ({"digest": "sha256:short"}, "at '/image/digest'"),
        ({"repository": "Backstage Py"}, "at '/image/repository'"),
        ({"pullPolicy": "Sometimes"}, "at '/image/pullPolicy'"),
    ]:
        with pytest.raises(helm.HelmValuesError, match=re.escape(message)):
            render({"image": {**IMAGE, **wrong}})


def test_the_service_account_is_created_or_named_for_workload_identity() -> None:
    annotations = {"iam.gke.io/gcp-service-account": "backstage@project.iam.gserviceaccount.com"}
    docs = render({"serviceAccount": {"create": True, "annotations": annotations}})
    (account,) = by_kind(docs, "ServiceAccount").values()
    assert account["metadata"]["name"] == f"{RELEASE}-backstage-py"
    assert account["metadata"]["annotations"] == annotations
    assert account["automountServiceAccountToken"] is False
    for unit in unit_names({}):
        assert pod_of(docs, unit)["serviceAccountName"] == f"{RELEASE}-backstage-py"
    named = render({"serviceAccount": {"create": True, "name": "backstage"}})
    assert list(by_kind(named, "ServiceAccount")) == ["backstage"]
    # An account made elsewhere: only named, never created.
    existing = render({"serviceAccount": {"name": "platform-backstage"}})
    assert not by_kind(existing, "ServiceAccount")
    assert pod_of(existing, "catalog")["serviceAccountName"] == "platform-backstage"
    assert pod_of(render({}), "catalog")["serviceAccountName"] == "default"
    with pytest.raises(helm.HelmValuesError, match="additional properties 'annotation'"):
        render({"serviceAccount": {"annotation": {}}})


def test_env_volumes_containers_and_pod_settings_reach_every_unit() -> None:
    values = values_of("community")
    defaults = values["unitDefaults"]
    docs = render(values)
    for unit in unit_names(values):
        pod = pod_of(docs, unit)
        container = backstage_container(docs, unit)
        assert {"name": "PYTHONFAULTHANDLER", "value": "1"} in container["env"]
        assert container["envFrom"] == [
            {"configMapRef": {"name": "backstage-env"}},
            {"secretRef": {"name": "backstage-github"}},
            {"secretRef": {"name": "backstage-oidc"}},
            {"secretRef": {"name": "backstage-extra", "optional": True}},
        ]
        assert defaults["extraVolumes"][0] in pod["volumes"]
        assert defaults["extraVolumeMounts"][0] in container["volumeMounts"]
        # The chart's own mounts stay.
        assert {"tmp", "config"} <= {m["name"] for m in container["volumeMounts"]}
        assert pod["initContainers"] == defaults["initContainers"]
        assert [c["name"] for c in pod["containers"]] == ["backstage", "cloud-sql-proxy"]
        metadata = deployment_of(docs, unit)["spec"]["template"]["metadata"]
        assert metadata["annotations"]["prometheus.io/scrape"] == "false"
        assert "checksum/config" in metadata["annotations"]
        assert metadata["labels"]["azure.workload.identity/use"] == "true"
        assert pod["priorityClassName"] == "backstage-critical"
        # A spread constraint without a selector spreads the unit's own pods.
        (spread,) = pod["topologySpreadConstraints"]
        assert spread["topologyKey"] == "topology.kubernetes.io/zone"
        selector = deployment_of(docs, unit)["spec"]["selector"]["matchLabels"]
        assert spread["labelSelector"] == {"matchLabels": selector}
        assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
    # commonLabels and commonAnnotations on every object the chart makes.
    for doc in docs:
        assert doc["metadata"]["labels"]["team"] == "platform", doc["kind"]
        assert doc["metadata"]["annotations"]["owner"] == "platform@example.com", doc["kind"]
    # A unit's own list replaces the default one.
    values["units"] = [
        {"name": "catalog", "plugins": ["catalog"], "extraEnvVarsSecrets": ["only-this"]},
        {"name": "search", "plugins": ["search"]},
    ]
    values["plugins"] = {"search": {"requires": ["catalog"]}}
    docs = render(values)
    assert {"secretRef": {"name": "only-this"}} in backstage_container(docs, "catalog")["envFrom"]
    assert {"secretRef": {"name": "only-this"}} not in backstage_container(docs, "search")[
        "envFrom"
    ]


def test_the_service_type_and_annotations() -> None:
    docs = render(values_of("community"))
    for service in by_kind(docs, "Service").values():
        assert service["spec"]["type"] == "LoadBalancer"
        assert service["metadata"]["annotations"] == {
            "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
            "owner": "platform@example.com",
        }
    with pytest.raises(helm.HelmValuesError, match="at '/service/type'"):
        render({"service": {"type": "ExternalIP"}})


def test_the_ingress_serves_extra_hosts_with_their_tls() -> None:
    docs = render(values_of("community"))
    (ingress,) = by_kind(docs, "Ingress").values()
    assert ingress["spec"]["ingressClassName"] == "nginx"
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == ["backstage.example.com", "developer.example.com"]
    assert ingress["spec"]["tls"] == [
        {"hosts": ["backstage.example.com"], "secretName": "backstage-tls"},
        {"hosts": ["developer.example.com"], "secretName": "developer-tls"},
    ]
    with pytest.raises(helm.HelmValuesError, match="at '/ingress/extraHosts/0'"):
        render({"ingress": {"extraHosts": ["developer.example.com"]}})


def test_the_ingress_lets_webhook_bodies_through_to_the_events_plugin() -> None:
    body_size = "nginx.ingress.kubernetes.io/proxy-body-size"
    (ingress,) = by_kind(render({}), "Ingress").values()
    assert ingress["metadata"]["annotations"][body_size] == "10m"
    own = {"ingress": {"annotations": {body_size: "2m", "team": "platform"}}}
    (ingress,) = by_kind(render(own), "Ingress").values()
    assert ingress["metadata"]["annotations"] == {body_size: "2m", "team": "platform"}
    without_events = {
        "units": [{"name": "catalog", "plugins": ["catalog"]}],
        "plugins": {"catalog": {"requires": []}},
    }
    (ingress,) = by_kind(render(without_events), "Ingress").values()
    assert body_size not in (ingress["metadata"].get("annotations") or {})


def test_the_http_route_sends_each_plugin_to_the_service_of_its_unit() -> None:
    values = values_of("community")
    docs = render(values)
    (route,) = by_kind(docs, "HTTPRoute").values()
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == values["httpRoute"]["parentRefs"]
    assert route["spec"]["hostnames"] == ["backstage.example.com"]
    routes = {}
    for rule in route["spec"]["rules"]:
        (backend,) = rule["backendRefs"]
        assert backend["port"] == 7007
        assert backend["name"] in by_kind(docs, "Service")
        for match in rule["matches"]:
            assert match["path"]["type"] == "PathPrefix"
            routes[match["path"]["value"]] = backend["name"]
    expected = {
        f"/api/{plugin}": service_name(unit["name"])
        for unit in units_of(values)
        for plugin in unit["plugins"]
    }
    # Every other path is the frontend's, as on the Ingress.
    if "/api/app" in expected:
        expected["/"] = expected["/api/app"]
    assert "/" in expected
    assert routes == expected
    values["httpRoute"]["hostnames"] = ["a.example.com"]
    (route,) = by_kind(render(values), "HTTPRoute").values()
    assert route["spec"]["hostnames"] == ["a.example.com"]
    with pytest.raises(
        helm.HelmRenderError, match=re.escape("httpRoute.parentRefs must name the Gateway")
    ):
        render({"httpRoute": {"enabled": True}})


def policy_peers(policy: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Port name to the peers allowed to it."""
    peers: dict[str, list[dict[str, Any]]] = {}
    for rule in policy["spec"]["ingress"] or []:
        for port in rule["ports"]:
            peers.setdefault(port["port"], []).extend(rule["from"])
    return peers


def unit_peer(unit: str) -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/name": "backstage-py",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": unit,
    }
    return {"podSelector": {"matchLabels": labels}}


def test_network_policies_admit_the_ingress_and_the_units_that_talk_to_each_other() -> None:
    values = values_of("community")
    docs = render(values)
    policies = by_kind(docs, "NetworkPolicy")
    controller = values["networkPolicy"]["ingressFrom"]
    prometheus = values["networkPolicy"]["metricsFrom"]
    # From deploy/topology.yaml: a unit admits the units whose plugins call its plugins, and
    # the units its plugins call (which fetch the caller's public keys to check its tokens);
    # every unit calls auth (user-token keys) and permission, which calls every unit back.
    host = topology().placement()
    for unit in unit_names(values):
        peers = set()
        for spec in topology().plugins.values():
            for required in spec.requires:
                if host[required] == unit:
                    peers.add(host[spec.id])
                if host[spec.id] == unit:
                    peers.add(host[required])
        if unit in (host.get("auth"), host.get("permission")):
            peers |= set(unit_names(values))
        if "permission" in host:
            peers.add(host["permission"])
        assert policy_peers(policies[service_name(unit)]) == {
            "http": [*controller, *(unit_peer(peer) for peer in sorted(peers))],
            "metrics": prometheus,
        }
    assert {"search"} <= {spec.id for spec in topology().plugins.values() if spec.requires}
    for unit in unit_names(values):
        policy = policies[service_name(unit)]
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        pod_labels = deployment_of(docs, unit)["spec"]["template"]["metadata"]["labels"]
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
        # The ports named in the policy are the container's.
        ports = {p["name"] for p in backstage_container(docs, unit)["ports"]}
        assert set(policy_peers(policy)) <= ports
    # A unit nobody calls and that calls nobody admits only the ingress controller.
    values["units"] = [
        {"name": "a", "plugins": ["catalog"]},
        {"name": "b", "plugins": ["search"]},
        {"name": "c", "plugins": ["todo"]},
    ]
    values["plugins"] = {"catalog": {}, "search": {"requires": ["catalog"]}, "todo": {}}
    values["metrics"] = {"enabled": False}
    policies = by_kind(render(values), "NetworkPolicy")
    assert policy_peers(policies[service_name("a")]) == {"http": [*controller, unit_peer("b")]}
    assert policy_peers(policies[service_name("b")]) == {"http": [*controller, unit_peer("a")]}
    assert policy_peers(policies[service_name("c")]) == {"http": controller}
    # The core's calls: every unit to auth and permission, permission back to every unit.
    values["units"] = [
        {"name": "a", "plugins": ["catalog"]},
        {"name": "b", "plugins": ["auth"]},
        {"name": "c", "plugins": ["permission"]},
        {"name": "d", "plugins": ["todo"]},
    ]
    values["plugins"] = {"auth": {"requires": ["catalog"]}}
    policies = by_kind(render(values), "NetworkPolicy")
    everyone = [unit_peer(u) for u in "abcd"]
    assert policy_peers(policies[service_name("a")]) == {
        "http": [*controller, unit_peer("b"), unit_peer("c")]
    }
    assert policy_peers(policies[service_name("b")]) == {"http": [*controller, *everyone]}
    assert policy_peers(policies[service_name("c")]) == {"http": [*controller, *everyone]}
    assert policy_peers(policies[service_name("d")]) == {"http": [*controller, unit_peer("c")]}
    # Plugins calling one another in one unit: the unit admits itself.
    values["units"] = [{"name": "a", "plugins": ["catalog", "search"]}]
    policies = by_kind(render(values), "NetworkPolicy")
    assert policy_peers(policies[service_name("a")]) == {"http": [*controller, unit_peer("a")]}
    with pytest.raises(
        helm.HelmRenderError, match=re.escape("networkPolicy.ingressFrom must say where")
    ):
        render({"networkPolicy": {"enabled": True}})
    with pytest.raises(
        helm.HelmRenderError, match=re.escape("networkPolicy.metricsFrom must say where")
    ):
        render(
            {
                "networkPolicy": {"enabled": True, "ingressFrom": controller},
                "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
            }
        )


def test_the_service_monitor_scrapes_the_declared_metrics_port() -> None:
    values = values_of("community")
    docs = render(values)
    (monitor,) = by_kind(docs, "ServiceMonitor").values()
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert unit_names(values)
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "metrics",
        "path": "/metrics",
        "interval": "30s",
        "scrapeTimeout": "10s",
    }
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    selector = monitor["spec"]["selector"]["matchLabels"]
    for unit in unit_names(values):
        service = by_kind(docs, "Service")[service_name(unit)]
        assert selector.items() <= service["metadata"]["labels"].items()
        (port,) = [p for p in service["spec"]["ports"] if p["name"] == "metrics"]
        container = backstage_container(docs, unit)
        (declared,) = [p for p in container["ports"] if p["name"] == "metrics"]
        assert port["targetPort"] == "metrics"
        assert (
            declared["containerPort"]
            == port["port"]
            == values_of("community")["metrics"].get("port", 9464)
        )
        # The unit serves them there: backend.metrics.prometheus in its config.
        data = by_kind(docs, "ConfigMap")[service_name(unit)]["data"]
        app_config = yaml.safe_load(data["app-config.unit.yaml"])
        assert app_config["backend"]["metrics"]["prometheus"] == {
            "enabled": True,
            "port": declared["containerPort"],
        }
    plain = render({})
    assert not by_kind(plain, "ServiceMonitor")
    assert [p["name"] for p in backstage_container(plain, "catalog")["ports"]] == ["http"]
    with pytest.raises(
        helm.HelmRenderError, match=re.escape("metrics.serviceMonitor needs metrics.enabled")
    ):
        render({"metrics": {"serviceMonitor": {"enabled": True}}})


def test_extra_app_config_comes_inline_or_from_config_maps_of_your_own() -> None:
    docs = render(values_of("community"))
    for unit in unit_names({}):
        container = backstage_container(docs, unit)
        configs = [
            a for i, a in enumerate(container["args"]) if container["args"][i - 1] == "--config"
        ]
        assert configs == [
            "/app/app-config.yaml",
            "/etc/backstage/conf.d/app-config.unit.yaml",
            "/etc/backstage/extra/0/app-config.github.yaml",
            "/etc/backstage/extra/1/app-config.auth.yaml",
        ]
        volumes = {v["name"]: v for v in pod_of(docs, unit)["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        for index, name in enumerate(["backstage-github-config", "backstage-auth-config"]):
            volume = mounts[f"/etc/backstage/extra/{index}"]
            assert volumes[volume]["configMap"] == {"name": name}
    # The map form is merged into every unit's own ConfigMap.
    inline = render({"extraAppConfig": {"catalog": {"readonly": True}}})
    for unit in unit_names({}):
        data = by_kind(inline, "ConfigMap")[service_name(unit)]["data"]
        assert yaml.safe_load(data["app-config.unit.yaml"])["catalog"] == {"readonly": True}
        assert len(backstage_container(inline, unit)["args"]) == 7
    with pytest.raises(helm.HelmValuesError, match="extraAppConfig"):
        render({"extraAppConfig": [{"filename": "../escape.yaml", "configMapRef": "x"}]})


SECRETS = {
    ("backstage-py", "postgres-password"): "pg-secret",
    ("backstage-py", "cache-url"): "redis://:cache-secret@redis-master:6379/2",
    ("backstage-py", "external-token"): "external-token-secret",
    ("redis-cluster", "password"): "cluster-secret",
    ("infinispan", "password"): "ispn-secret",
    ("memcached", "url"): "backstage:memcached-secret@memcached:11211",
}


def unit_config(docs: list[dict[str, Any]], unit: str, tmp: Any) -> Config:
    """The config the unit's container reads: the image's app-config, its ConfigMap, and the
    environment the Deployment gives it (Secrets resolved)."""
    container = backstage_container(docs, unit)
    env = {}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = SECRETS[(ref["name"], ref["key"])]
    unit_file = tmp / f"app-config.{unit}.yaml"
    data = by_kind(docs, "ConfigMap")[service_name(unit)]["data"]
    unit_file.write_text(data["app-config.unit.yaml"])
    return load_config([REPO_ROOT / "deploy/app-config.production.yaml", unit_file], env=env)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"cache": {"store": "memory"}}, {"store": "memory"}),
        ({}, {"store": "redis", "host": "redis-master", "port": 6379, "password": "cache-secret"}),
        (
            {"cache": {"store": "memcache", "existingSecret": {"name": "memcached", "key": "url"}}},
            {
                "store": "memcache",
                "host": "memcached",
                "port": 11211,
                "username": "backstage",
                "password": "memcached-secret",
            },
        ),
        (
            values_of("cache-cluster"),
            {
                "store": "redis",
                "cluster_nodes": (
                    ("redis-cluster-0.redis-cluster", 6379),
                    ("redis-cluster-1.redis-cluster", 6379),
                ),
                "read_from_replicas": True,
                "username": "backstage",
                "password": "cluster-secret",
            },
        ),
        (
            values_of("infinispan"),
            {
                "store": "infinispan",
                "host": "infinispan.cache.svc",
                "port": 11222,
                "ssl": True,
                "username": "backstage",
                "password": "ispn-secret",
            },
        ),
    ],
)
def test_every_cache_store_is_selected_as_the_backend_reads_it(
    values: dict[str, Any], expected: dict[str, Any], tmp_path: Any
) -> None:
    docs = render(values)
    for unit in unit_names(values):
        settings = read_store_settings(unit_config(docs, unit, tmp_path))
        assert {key: getattr(settings, key) for key in expected} == expected
        env = {e["name"] for e in backstage_container(docs, unit)["env"]}
        one_server = expected["store"] in ("redis", "memcache") and "cluster_nodes" not in expected
        assert ("BACKSTAGE_CACHE_URL" in env) is one_server
        assert ("BACKSTAGE_CACHE_PASSWORD" in env) is ("password" in expected and not one_server)


def test_wrong_cache_settings_fail_the_render() -> None:
    cluster = {"rootNodes": ["redis://r:6379"]}
    with pytest.raises(
        helm.HelmRenderError, match=re.escape("cache.cluster is for the redis and valkey")
    ):
        render({"cache": {"store": "memcache", "cluster": cluster}})
    with pytest.raises(helm.HelmRenderError, match=re.escape("cache.infinispan.host must name")):
        render({"cache": {"store": "infinispan"}})
    with pytest.raises(helm.HelmValuesError, match="at '/cache/cluster/rootNodes/0'"):
        render({"cache": {"cluster": {"rootNodes": ["r:6379"]}}})
