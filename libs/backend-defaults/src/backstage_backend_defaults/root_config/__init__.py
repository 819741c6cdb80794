"""core.rootConfig: the merged app-config files, transforms and `APP_CONFIG_*` overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from backstage_backend_plugin_api import ServiceFactory, create_service_factory
from backstage_backend_plugin_api import core_services as core
from backstage_common.config import Config, load_config

__all__ = ["default_config_paths", "root_config_service_factory"]


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
