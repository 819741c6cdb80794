"""Helpers shared by the deployment tests: the repository, its topology, Compose's
variable interpolation."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from backstage_backend_test_utils import REQUIRE_SERVICES_ENV
from backstage_cli.topology import Topology, load_topology

REPO_ROOT = Path(__file__).resolve().parents[2]

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def topology() -> Topology:
    return load_topology(REPO_ROOT / "deploy/topology.yaml")


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$$`."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.groups()
        current = env.get(name, "")
        if operator == ":-":
            return current or argument
        if operator == ":?" and not current:
            raise KeyError(f"{name}: {argument}")
        return current

    return _VARIABLE.sub(substitute, value)


def compose_file(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml with YAML merges resolved and `env` interpolated (raw without)."""
    data = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return data if env is None else interpolate(data, env)  # type: ignore[no-any-return]


def require_nginx() -> str:
    """The nginx binary; without it the test is skipped, or fails where real servers are
    required (CI installs nginx-light, see .ci/run)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    reason = "nginx is not installed (apt-get install -y nginx-light)"
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_SERVICES_ENV}=1 requires it")
    pytest.skip(reason)
