"""Config overrides from `APP_CONFIG_*` environment variables, as Backstage reads them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from backstage_common.config._errors import ConfigError
from backstage_common.config._reader import ConfigSource
from backstage_common.config._values import JsonObject, JsonValue

__all__ = ["ENV_CONTEXT", "ENV_PREFIX", "read_env_config"]

ENV_PREFIX = "APP_CONFIG_"
ENV_CONTEXT = "env"

# One `_`-separated segment of the variable name, as Backstage's EnvConfigSource checks it.
_ENV_KEY_PART = re.compile(r"[a-z][a-z0-9]*(?:[-_:][a-z0-9]+)*", re.IGNORECASE)


def read_env_config(env: Mapping[str, str]) -> ConfigSource | None:
    """Read `APP_CONFIG_<seg>_<seg>...` variables into one source with context `env`.

    The name after the prefix is split on `_` into a key path (case-sensitive): for
    example `APP_CONFIG_backend_listen_port=7007` sets `backend.listen.port` to 7007.
    Values are parsed as JSON when they parse, and kept as strings otherwise. Empty
    values are ignored. Returns None when no variable applies.
    """
    data: JsonObject = {}
    for name, value in env.items():
        if not value or not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :]
        parts = key.split("_")
        invalid = [part for part in parts if not _ENV_KEY_PART.fullmatch(part)]
        if invalid:
            raise _error(name, f"invalid config key '{key}' (bad segment '{invalid[0]}')")
        target = data
        for index, part in enumerate(parts[:-1]):
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                existing = "_".join(parts[: index + 1])
                raise _error(
                    name, f"could not nest config for key '{key}' under existing value '{existing}'"
                )
            target = child
        if parts[-1] in target:
            raise _error(name, f"refusing to override existing config at key '{key}'")
        parsed = _parse_value(value)
        if parsed is None:
            raise _error(name, "value may not be null")
        target[parts[-1]] = parsed
    return ConfigSource(data=data, context=ENV_CONTEXT) if data else None


def _parse_value(value: str) -> JsonValue:
    """JSON-parse `value` as JavaScript's JSON.parse would, else keep the string."""
    try:
        parsed: JsonValue = json.loads(value, parse_constant=_reject_constant)
    except ValueError:
        return value
    return parsed


def _reject_constant(name: str) -> object:
    # NaN and Infinity are not JSON; JavaScript's JSON.parse rejects them.
    raise ValueError(name)


def _error(name: str, problem: str) -> ConfigError:
    return ConfigError(f"Invalid config in environment variable '{name}': {problem}")
