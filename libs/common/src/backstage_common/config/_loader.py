"""Loading config files and environment overrides into a `Config`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from backstage_common.config._env import read_env_config
from backstage_common.config._errors import ConfigError
from backstage_common.config._reader import Config, ConfigSource
from backstage_common.config._transform import transform_config_data
from backstage_common.config._values import type_name
from backstage_common.config._yaml import parse_yaml

__all__ = ["load_config", "read_config_file"]


def load_config(paths: Sequence[str | Path], *, env: Mapping[str, str] | None = None) -> Config:
    """Load config files in order (later files win), then `APP_CONFIG_*` overrides.

    Each file is parsed as YAML, then transformed: `${VAR}` substitution and the
    `$env`, `$file` and `$include` includes, resolved against `env` (default:
    `os.environ`). Every value keeps its source (the file path, or `env`) for errors.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    sources: list[ConfigSource] = []
    for path in paths:
        source = read_config_file(path, env=environ)
        if source is not None:
            sources.append(source)
    env_source = read_env_config(environ)
    if env_source is not None:
        sources.append(env_source)
    return Config.from_sources(sources)


def read_config_file(path: str | Path, *, env: Mapping[str, str]) -> ConfigSource | None:
    """Read and transform one config file; None if the file holds no document at all."""
    file = Path(path)
    context = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Config file '{context}' does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"Failed to read config file '{context}', {error}") from error
    raw = parse_yaml(text, context)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"Failed to read config file '{context}', expected an object at the root, "
            f"got {type_name(raw)}"
        )
    return ConfigSource(data=transform_config_data(raw, file=file, env=env), context=context)
