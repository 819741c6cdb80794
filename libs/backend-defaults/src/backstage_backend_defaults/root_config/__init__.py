"""core.rootConfig: the merged app-config files, transforms and `APP_CONFIG_*` overrides, and
their validation against the installed packages' config schemas (`config.schema.json` beside
this module is the core's own)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from backstage_backend_plugin_api import (
    ServiceFactory,
    ServiceRef,
    create_service_factory,
    create_service_ref,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.config import Config, ConfigSchema, ConfigValidation, load_config

__all__ = [
    "config_validation_service_factory",
    "config_validation_service_ref",
    "default_config_paths",
    "root_config_service_factory",
]

config_validation_service_ref: ServiceRef[ConfigValidation] = create_service_ref(
    id="core.rootConfigValidation", scope="root"
)
"""What validating the root config against the config schemas found."""


def default_config_paths(
    root: Path, *, overlays: Sequence[Path] = (), env: Mapping[str, str] | None = None
) -> list[Path]:
    """Backstage's default list: `app-config.yaml`, then `app-config.<env>.yaml` for each
    `BACKSTAGE_ENV` entry, then `overlays` (a unit's own file), then the `.local` files
    when present."""
    env = os.environ if env is None else env
    names = [name.strip() for name in env.get("BACKSTAGE_ENV", "").split(",") if name.strip()]
    paths = [root / "app-config.yaml"]
    paths += [p for p in (root / f"app-config.{n}.yaml" for n in names) if p.exists()]
    paths += list(overlays)
    paths += [p for p in [root / "app-config.local.yaml"] if p.exists()]
    paths += [p for p in (root / f"app-config.{n}.local.yaml" for n in names) if p.exists()]
    return paths


def root_config_service_factory(
    *,
    paths: Sequence[str | Path] = (),
    data: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> ServiceFactory[Config]:
    """A root config from `paths` (later files win), or from `data` when given."""

    def create() -> Config:
        if data is not None:
            return Config.from_data(data)
        return load_config(list(paths), env=env)

    return create_service_factory(service=core.root_config, factory=create)


def config_validation_service_factory(
    schema: ConfigSchema | None = None,
) -> ServiceFactory[ConfigValidation]:
    """Validate the root config when the backend starts: each unknown key is logged as a
    warning naming the closest known key, and any value a schema refuses (a wrong type)
    stops the start with an error naming the key and its file.

    Args:
        schema: the schemas to validate against; default: the installed packages'
            (`backstage.config_schemas` entry points), read at start.
    """

    def create(config: core.RootConfig, logger: core.RootLogger) -> ConfigValidation:
        if not isinstance(config, Config):
            return ConfigValidation()
        result = (schema or ConfigSchema.from_entry_points()).validate(config)
        for warning in result.warnings:
            logger.warn(warning.message, {"type": "configSchema", "key": warning.key})
        result.raise_for_errors()
        return result

    return create_service_factory(
        service=config_validation_service_ref, factory=create, initialization="always"
    )
