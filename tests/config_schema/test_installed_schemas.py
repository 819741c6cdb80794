"""The config schemas of the installed packages, and the project's committed configs."""

from __future__ import annotations

from pathlib import Path

from backstage_common.config import ConfigSchema, load_config


def test_schemas_come_from_the_installed_packages_entry_points() -> None:
    schema = ConfigSchema.from_entry_points()
    assert {"core", "catalog", "search"} <= {package.package for package in schema.packages}
    assert schema.visibility_of(["backend", "baseUrl"]) == "frontend"
    assert schema.visibility_of(["backend", "auth", "externalAccess", 0, "options", "token"]) == (
        "secret"
    )


def test_the_project_configs_hold_to_the_installed_schemas() -> None:
    root = Path(__file__).resolve().parents[2]
    schema = ConfigSchema.from_entry_points()
    env = {
        "BACKSTAGE_BASE_URL": "http://backstage.example.com",
        "POSTGRES_HOST": "db",
        "POSTGRES_USER": "backstage",
        "BACKSTAGE_DATABASE_PASSWORD": "pw",
        "BACKSTAGE_CACHE_URL": "redis://:pw@cache:6379",
        "BACKSTAGE_EXTERNAL_TOKEN": "token",
    }
    committed = [
        root / "app-config.yaml",
        *sorted((root / "deploy").rglob("app-config*.yaml")),
        *sorted((root / "services").rglob("app-config*.yaml")),
    ]
    assert len(committed) >= 5
    for path in committed:
        result = schema.validate(load_config([path], env=env))
        assert result.errors == (), path
        assert result.warnings == (), path
