"""docker-compose.yml, checked without Docker: against the topology, the image's entry
point, the proxy's routes, and the secrets in `.env`."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from importlib.resources import as_file
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from backstage_backend_defaults.cache import read_store_settings
from backstage_backend_defaults.root_config import default_config_paths
from backstage_backend_test_utils import require_service_url
from backstage_cli.topology import check_compose, compose_unit_services
from backstage_cli.units import load_unit
from backstage_common.config import load_config

from ._processes import delete_cache_keys, drop_databases, free_port, wait_until
from ._support import (
    REPO_ROOT,
    compose_file,
    interpolate,
    read_env_file,
    require_nginx,
    topology,
)
from ._units import EXAMPLE_KINDS, WORK_TIMEOUT, UnitProcess, entity_ref, example_entities

ENV = read_env_file(REPO_ROOT / ".env.example")
HEALTHCHECK = ["CMD", "python3", "-I", "-S", "/app/healthcheck.py"]
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET", re.I)


def test_every_unit_of_the_topology_is_one_service_of_the_same_image() -> None:
    compose = compose_file(ENV)
    services = compose["services"]
    assert compose_unit_services(compose) == {unit: unit for unit in topology().units}
    images = {services[unit]["image"] for unit in topology().units}
    assert images == {ENV["BACKSTAGE_IMAGE"]}
    for unit in topology().units:
        # No command or entry point of its own: the image's `tini -- backstage-py start`,
        # the unit from BACKSTAGE_UNIT.
        assert "command" not in services[unit]
        assert "entrypoint" not in services[unit]
    assert check_compose(topology(), compose, source="docker-compose.yml") == []


def test_units_wait_for_healthy_infrastructure_and_report_readiness() -> None:
    services = compose_file(ENV)["services"]
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on a missing service {target}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no healthcheck"
    for unit in topology().units:
        service = services[unit]
        assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}
        assert service["depends_on"]["redis"] == {"condition": "service_healthy"}
        # The image's own health check (one HTTP request, no backend start): the same
        # command as the Dockerfile's HEALTHCHECK, on the file the image holds.
        assert service["healthcheck"]["test"] == HEALTHCHECK
    assert set(services["proxy"]["depends_on"]) == set(topology().units)
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "COPY deploy/image/healthcheck.py /app/healthcheck.py" in dockerfile
    assert f"CMD {json.dumps(HEALTHCHECK[1:])}" in dockerfile
    script = (REPO_ROOT / "deploy/image/healthcheck.py").read_text()
    assert 'DEFAULT_URL = "http://127.0.0.1:7007/.backstage/health/v1/readiness"' in script


def test_compose_builds_the_image_from_the_clone() -> None:
    """`docker compose up --build` works from a clone: every unit builds the repository's
    Dockerfile under the one tag they all run."""
    compose = compose_file(ENV)
    for unit in topology().units:
        service = compose["services"][unit]
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}
        assert service["image"] == ENV["BACKSTAGE_IMAGE"]
    assert (REPO_ROOT / "Dockerfile").is_file()
    # The build context keeps what the image build copies and leaves out local state.
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    needed = ["pyproject.toml", "uv.lock", "libs", "plugins", "services", "deploy/image"]
    assert not [path for path in needed if path in ignored]
    assert "deploy/app-config.production.yaml" not in ignored


def test_only_the_proxy_publishes_a_port_and_postgres_keeps_a_named_volume() -> None:
    compose = compose_file(ENV)
    published = {name for name, service in compose["services"].items() if "ports" in service}
    assert published == {"proxy"}
    assert compose["services"]["proxy"]["ports"] == ["127.0.0.1:7007:80"]
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    assert "pgdata" in compose["volumes"]


def test_secrets_come_from_env_and_env_example_sets_every_required_one() -> None:
    raw = compose_file()
    required = set(re.findall(r"\$\{(\w+):\?", (REPO_ROOT / "docker-compose.yml").read_text()))
    assert required <= set(ENV), f"{required - set(ENV)} missing from .env.example"
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                # Required from .env, or optional and empty: never a literal.
                assert re.fullmatch(r"\$\{\w+(:\?[^}]+|:-)\}", str(value)), f"{name}.{key}"
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(raw, {})
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()
    assert ".env" in (REPO_ROOT / ".dockerignore").read_text().split()
    assert "env_file" not in (REPO_ROOT / "docker-compose.yml").read_text()


def test_a_unit_config_in_compose_loads_with_the_default_auth_policy_on(tmp_path: Path) -> None:
    """The files a unit container reads, as laid out in the image (/app), with the
    environment Compose gives the catalog service."""
    compose = compose_file(ENV)
    service = compose["services"]["catalog"]
    app = tmp_path / "app"
    (app / "deploy").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "deploy/app-config.production.yaml", app / "app-config.yaml")
    for volume in service["volumes"]:
        source, target, _ = volume.split(":")
        destination = app / Path(target).relative_to("/app")
        if (REPO_ROOT / source).is_dir():
            shutil.copytree(REPO_ROOT / source, destination)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / source, destination)
    env = {key: str(value) for key, value in service["environment"].items()}
    overlay = load_unit("catalog").config_overlay
    assert overlay is not None
    with as_file(overlay) as overlay_path:
        files = default_config_paths(app, overlays=[Path(overlay_path)], env=env)
        assert [p.name for p in files] == [
            "app-config.yaml",
            "app-config.compose.yaml",
            "app-config.cache.yaml",
            "app-config.example-catalog.yaml",
            "app-config.catalog.yaml",
        ]
        config = load_config(files, env=env)
    assert config.get_number("backend.listen.port") == 7007
    assert config.get_string("backend.baseUrl") == ENV["BACKSTAGE_BASE_URL"]
    assert config.get_string("backend.database.client") == "pg"
    assert config.get_string("backend.database.connection.host") == "postgres"
    assert config.get_string("backend.database.connection.password") == ENV["POSTGRES_PASSWORD"]
    assert config.get_string("backend.cache.connection") == "redis://redis:6379"
    token = config.get_config_array("backend.auth.externalAccess")[0]
    assert token.get_string("options.token") == ENV["BACKSTAGE_EXTERNAL_TOKEN"]
    assert config.get_optional("backend.auth.dangerouslyDisableDefaultAuthPolicy") is None
    assert (
        "dangerouslyDisableDefaultAuthPolicy"
        not in (REPO_ROOT / "deploy/app-config.production.yaml").read_text()
    )
    # Seeded with the example catalog, read from the mounted folder (file targets are
    # relative to the working directory, /app).
    (location,) = config.get_config_array("catalog.locations")
    assert location.get_string("type") == "file"
    target = (app / location.get_string("target")).resolve()
    assert target.is_relative_to(app / "examples/catalog")
    root = yaml.safe_load(target.read_text())
    assert root["kind"] == "Location"
    assert all((target.parent / t).is_file() for t in root["spec"]["targets"])
    (rule,) = location.get_config_array("rules")
    assert set(rule.get_string_array("allow")) == set(EXAMPLE_KINDS)
    kinds = {entity["kind"] for entity in example_entities()} | {"Location"}
    assert kinds <= set(EXAMPLE_KINDS)
    endpoints = config.get_config_array("discovery.endpoints")
    assert [e.get_string("target.internal") for e in endpoints] == [
        f"http://{unit}:7007/api/{{{{pluginId}}}}" for unit in topology().units
    ]


def proxy_routes(text: str) -> dict[str, tuple[str, str]]:
    """`location` path to (upstream variable's value, match kind) from an nginx.conf."""
    upstreams = dict(re.findall(r'set \$(\w+) "([^"]+)";', text))
    routes = {}
    for exact, path, variable in re.findall(
        r"location (= )?(/api/\S+) \{ proxy_pass http://\$(\w+); \}", text
    ):
        routes[path] = (upstreams[variable], "exact" if exact else "prefix")
    return routes


def test_the_proxy_routes_each_plugin_to_the_service_of_its_unit() -> None:
    compose = compose_file(ENV)
    proxy = compose["services"]["proxy"]
    assert "./deploy/compose/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    routes = proxy_routes((REPO_ROOT / "deploy/compose/nginx.conf").read_text())
    expected = {}
    for plugin_id, unit in topology().placement().items():
        assert unit in compose["services"]
        expected[f"/api/{plugin_id}"] = (f"{unit}:7007", "exact")
        expected[f"/api/{plugin_id}/"] = (f"{unit}:7007", "prefix")
    assert routes == expected


def test_nginx_accepts_the_compose_proxy_config(tmp_path: Path) -> None:
    nginx = require_nginx()
    # Names are resolved per request (Compose's DNS), so nginx checks it here too.
    conf = tmp_path / "nginx.conf"
    conf.write_text((REPO_ROOT / "deploy/compose/nginx.conf").read_text())
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-g", f"pid {tmp_path}/nginx.pid;"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_the_compose_file_parses_as_plain_yaml_with_merges() -> None:
    raw = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    catalog = raw["services"]["catalog"]["environment"]
    # `<<` is shallow: the unit's environment keeps the shared entries it re-merges.
    assert catalog["BACKSTAGE_UNIT"] == "catalog"
    assert catalog["POSTGRES_HOST"] == "postgres"


def cache_settings(env: dict[str, str], cache_file: str) -> Any:
    """The cache store a Compose unit selects from `.env` values and app-config.cache.yaml."""
    files = [REPO_ROOT / "deploy/app-config.production.yaml"]
    compose_env = compose_file({**ENV, **env})["services"]["catalog"]["environment"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "app-config.cache.yaml"
        path.write_text(cache_file)
        config = load_config([*files, path], env={k: str(v) for k, v in compose_env.items()})
    return read_store_settings(config)


CACHE_FILE = (REPO_ROOT / "deploy/compose/app-config.cache.yaml").read_text()


def uncomment(block_start: str) -> str:
    """app-config.cache.yaml with the commented block starting at `block_start` enabled."""
    lines = CACHE_FILE.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"# {block_start}")
    out = [line for line in lines[:start] if not line.strip().startswith("#")]
    for line in lines[start:]:
        if not line.strip().startswith("#") or line.strip() == "#":
            break
        out.append(line.replace("# ", "", 1))
    return "\n".join(out) + "\n"


def test_compose_selects_every_cache_store() -> None:
    default = cache_settings({}, CACHE_FILE)
    assert (default.store, default.host, default.port) == ("redis", "redis", 6379)
    assert default.timeout == 2
    memcache = cache_settings(
        {"BACKSTAGE_CACHE_STORE": "memcache", "BACKSTAGE_CACHE_URL": "bs:pw@memcached:11211"},
        CACHE_FILE,
    )
    assert (memcache.store, memcache.host, memcache.username, memcache.password) == (
        "memcache",
        "memcached",
        "bs",
        "pw",
    )
    cluster = cache_settings({"BACKSTAGE_CACHE_PASSWORD": "cluster-pw"}, uncomment("redis:"))
    assert cluster.cluster_nodes == (("redis-cluster-0", 6379), ("redis-cluster-1", 6379))
    assert cluster.password == "cluster-pw"
    assert cluster.read_from_replicas is True
    infinispan = cache_settings(
        {"BACKSTAGE_CACHE_STORE": "infinispan", "BACKSTAGE_CACHE_PASSWORD": "ispn-pw"},
        uncomment("infinispan:"),
    )
    assert (infinispan.store, infinispan.host, infinispan.port) == (
        "infinispan",
        "infinispan",
        11222,
    )
    assert (infinispan.username, infinispan.password) == ("backstage", "ispn-pw")


def compose_app_dir(root: Path, service: dict[str, Any]) -> Path:
    """The container's /app as Compose lays it out: the image's files, then the service's
    mounts."""
    app = root / "app"
    (app / "deploy").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "deploy/app-config.production.yaml", app / "app-config.yaml")
    shutil.copy(REPO_ROOT / "deploy/topology.yaml", app / "deploy/topology.yaml")
    for volume in service["volumes"]:
        source, target, _ = volume.split(":")
        destination = app / Path(target).relative_to("/app")
        if (REPO_ROOT / source).is_dir():
            shutil.copytree(REPO_ROOT / source, destination)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / source, destination)
    return app


def test_the_compose_catalog_starts_seeded_with_the_example_catalog(tmp_path: Path) -> None:
    """The unit hosting the catalog, started as its container starts it (`backstage-py
    start`, the unit from BACKSTAGE_UNIT, the config files from /app and BACKSTAGE_ENV), on
    the real Postgres and Redis in place of Compose's: it ingests the mounted example
    catalog with nothing else configured."""
    postgres = require_service_url("BACKSTAGE_TEST_POSTGRES_URL")
    redis_url = require_service_url("BACKSTAGE_TEST_REDIS_URL")
    unit = topology().placement()["catalog"]
    service = compose_file(ENV)["services"][unit]
    app = compose_app_dir(tmp_path, service)
    prefix = f"bstest_{uuid.uuid4().hex[:10]}_"
    port = free_port()
    pg = urlsplit(postgres)
    env = {
        **{key: str(value) for key, value in service["environment"].items()},
        "PATH": str(Path(sys.executable).parent),
        # This machine's servers instead of Compose's, and this test's names on them.
        "POSTGRES_HOST": pg.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(pg.port or 5432),
        "POSTGRES_USER": pg.username or "postgres",
        "BACKSTAGE_DATABASE_PASSWORD": pg.password or "",
        "BACKSTAGE_CACHE_URL": redis_url,
        "APP_CONFIG_backend_database_prefix": prefix,
        "APP_CONFIG_backend_cache_redis_client_namespace": prefix,
        "APP_CONFIG_backend_listen_host": "127.0.0.1",
        "APP_CONFIG_backend_listen_port": str(port),
        "BACKSTAGE_SHUTDOWN_DELAY": "0s",
    }
    process = UnitProcess(
        name=unit,
        port=port,
        command=[str(Path(sys.executable).parent / "backstage-py"), "start"],
        cwd=app,
        env=env,
        log=tmp_path / "unit.log",
    )
    expected = sorted(
        entity_ref(entity) for entity in example_entities() if entity["kind"] == "Component"
    )
    headers = {"Authorization": f"Bearer {ENV['BACKSTAGE_EXTERNAL_TOKEN']}"}

    def components() -> list[str] | None:
        response = httpx.get(
            f"{process.url}/api/catalog/entities/by-query",
            params={"filter": "kind=component", "limit": "100"},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        refs = sorted(entity_ref(e) for e in response.json()["items"])
        return refs if refs == expected else None

    try:
        process.start()
        process.wait_ready()
        # The service's health check, run as Docker runs it in the container.
        command = service["healthcheck"]["test"][1:]
        assert command[0] == "python3"
        (app / "healthcheck.py").write_bytes(
            (REPO_ROOT / "deploy/image/healthcheck.py").read_bytes()
        )
        script = app / Path(command[-1]).relative_to("/app")
        check = subprocess.run(
            [sys.executable, *command[1:-1], str(script)],
            env={"BACKSTAGE_HEALTHCHECK_URL": f"{process.url}/.backstage/health/v1/readiness"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert (check.returncode, check.stderr) == (0, "")
        assert wait_until(
            components,
            "the example components in the catalog",
            alive=[process.running()],
            timeout=WORK_TIMEOUT,
            describe=process.tail,
        )
        assert expected
    finally:
        process.stop()
        asyncio.run(drop_databases(postgres, prefix))
        asyncio.run(delete_cache_keys(redis_url, prefix))
