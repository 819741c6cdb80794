"""`backend.workers` in the deployment files: the chart sets it from a unit's `workers`, else
its CPU limit rounded up, else `auto`; Compose hands every unit `BACKSTAGE_WORKERS`
(default `auto`)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.deploy._support import REPO_ROOT, compose_file, read_env_file
from tests.deploy.test_helm_chart import CHART, by_kind, render, service_name

ENV = read_env_file(REPO_ROOT / ".env.example")


@pytest.mark.parametrize(
    ("unit", "workers"),
    [
        ({"resources": {"limits": {"cpu": "1500m", "memory": "1Gi"}}}, 2),
        ({"resources": {"limits": {"cpu": "500m"}}}, 1),
        ({"resources": {"limits": {"cpu": 2}}}, 2),
        ({"resources": {"limits": {"cpu": "0.2"}}}, 1),
        ({"resources": {"limits": {"cpu": 3}}, "workers": 5}, 5),
        ({"workers": "auto"}, "auto"),
        ({}, "auto"),
    ],
)
def test_the_chart_sets_workers_from_the_cpu_limit(unit: dict[str, Any], workers: object) -> None:
    docs = render({"units": [{"name": "catalog", "plugins": ["catalog"], **unit}]})
    config_map = by_kind(docs, "ConfigMap")[service_name("catalog")]
    config = yaml.safe_load(config_map["data"]["app-config.unit.yaml"])
    assert config["backend"]["workers"] == workers


def test_compose_units_take_backstage_workers() -> None:
    for env, expected in (({}, "auto"), ({"BACKSTAGE_WORKERS": "3"}, "3")):
        services = compose_file({**ENV, **env})["services"]
        for name in ("catalog", "search", "auth"):
            assert str(services[name]["environment"]["APP_CONFIG_backend_workers"]) == expected


def test_the_chart_splits_the_catalog_into_a_serving_and_a_processing_unit() -> None:
    values = yaml.safe_load((CHART / "ci/split-catalog-values.yaml").read_text())
    docs = render(values)
    configs = {
        name: yaml.safe_load(doc["data"]["app-config.unit.yaml"])
        for name, doc in by_kind(docs, "ConfigMap").items()
        if "app-config.unit.yaml" in doc["data"]
    }
    serving = configs[service_name("catalog")]["backend"]
    processing = configs[service_name("catalog-processing")]["backend"]
    assert (serving["worker"], serving["workers"]) == ({"role": "serve"}, 2)
    assert (processing["worker"], processing["workers"]) == ({"role": "background"}, 2)
    assert "worker" not in configs[service_name("search")]["backend"]
    # discovery and the Ingress send the catalog's requests to the serving unit only
    catalog_url = f"http://{service_name('catalog')}.bs.svc:7007/api/catalog"
    for config in configs.values():
        [endpoint] = [e for e in config["discovery"]["endpoints"] if "catalog" in e["plugins"]]
        assert endpoint["target"]["internal"] == catalog_url
    [ingress] = by_kind(docs, "Ingress").values()
    backends = {
        path["path"]: path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends["/api/catalog"] == service_name("catalog")
    assert service_name("catalog-processing") not in backends.values()
    # both units run: a Deployment each
    deployments = by_kind(docs, "Deployment")
    assert {service_name("catalog"), service_name("catalog-processing")} <= set(deployments)
