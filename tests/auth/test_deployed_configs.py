"""The deployed configs enable no guest sign-in and never count as development."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from backstage_common.config import Config
from backstage_plugin_auth_backend import is_development

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = sorted(
    [
        REPO_ROOT / "deploy/app-config.production.yaml",
        *(REPO_ROOT / "deploy/compose").glob("app-config.*.yaml"),
        REPO_ROOT / "deploy/helm/backstage-py/values.yaml",
    ]
)


def _keys(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        return [k for key, item in value.items() for k in _keys(item, f"{path}.{key}")] + [path]
    if isinstance(value, list):
        return [k for index, item in enumerate(value) for k in _keys(item, f"{path}[{index}]")]
    return [path]


def test_no_deployed_config_configures_the_guest_or_development() -> None:
    assert len(DEPLOYED) >= 4
    for path in DEPLOYED:
        paths = _keys(yaml.safe_load(path.read_text()))
        offending = [k for k in paths if k.endswith(("providers.guest", "backend.environment"))]
        assert offending == [], path
        assert "dangerouslyAllowOutsideDevelopment" not in path.read_text(), path


def test_compose_and_the_image_are_not_development() -> None:
    data = {
        key: value
        for path in DEPLOYED[:-1]
        for key, value in (yaml.safe_load(path.read_text()) or {}).items()
    }
    config = Config.from_data(data)
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    names = compose["x-unit"]["environment"]["BACKSTAGE_ENV"]
    assert not is_development(config, {"BACKSTAGE_ENV": names})
    assert not is_development(config, {})  # the image without BACKSTAGE_ENV


def test_the_development_config_is_development() -> None:
    config = Config.from_data(yaml.safe_load((REPO_ROOT / "app-config.yaml").read_text()))
    assert is_development(config, {})
    assert config.get_config("auth.providers").keys() == ["guest"]
