"""Config loading and reading, after Backstage's `@backstage/config` and `config-loader`.

`load_config` reads YAML files (later files win), applies Backstage's transforms
(`${VAR}` substitution, `$env`, `$file`, `$include`) and then `APP_CONFIG_*` environment
overrides. `Config` reads the result by dotted key with typed getters whose errors name
the full key path and the file the offending value came from. `ConfigSchema` holds what
the installed packages declare they read (`backstage.config_schemas` entry points): it
validates a config, reports unknown keys, masks secrets and picks the frontend's part.
"""

from backstage_common.config._env import read_env_config
from backstage_common.config._errors import ConfigError
from backstage_common.config._loader import load_config, read_config_file
from backstage_common.config._reader import Config, ConfigSource
from backstage_common.config._schema import (
    CONFIG_SCHEMA_ENTRY_POINT_GROUP,
    SECRET_MASK,
    ConfigIssue,
    ConfigSchema,
    ConfigValidation,
    PackageConfigSchema,
    Visibility,
    frontend_config,
    load_package_schema,
)
from backstage_common.config._values import JsonObject, JsonPrimitive, JsonValue, merge_objects

__all__ = [
    "CONFIG_SCHEMA_ENTRY_POINT_GROUP",
    "SECRET_MASK",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ConfigSchema",
    "ConfigSource",
    "ConfigValidation",
    "JsonObject",
    "JsonPrimitive",
    "JsonValue",
    "PackageConfigSchema",
    "Visibility",
    "frontend_config",
    "load_config",
    "load_package_schema",
    "merge_objects",
    "read_config_file",
    "read_env_config",
]
