"""Backstage's config transforms: `${VAR}` substitution and `$env`/`$file`/`$include`.

Strings get environment substitution: `${VAR}` is replaced by the trimmed value of `VAR`,
`${VAR:-fallback}` falls back when `VAR` is unset or empty, and `$${...}` is an escape for
a literal `${...}`. A string that refers to an unset variable without a fallback is
removed, together with its key (or its array slot). Nulls are removed the same way.

An object whose only key is `$env`, `$file` or `$include` is replaced by what that
include names; paths are relative to the file that holds the include.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import Enum
from pathlib import Path

from backstage_common.config._errors import ConfigError
from backstage_common.config._values import JsonObject, JsonValue
from backstage_common.config._yaml import parse_yaml

__all__ = ["transform_config_data"]

_SUBSTITUTION = re.compile(r"(\$?\$\{[^{}]*\})")
_INCLUDE_KEYS = ("$file", "$env", "$include")
_INCLUDE_SUFFIXES = (".json", ".yaml", ".yml")


class _Removed(Enum):
    """Marks a value that a transform removed, so its key is dropped."""

    REMOVED = "removed"


_REMOVED = _Removed.REMOVED


def transform_config_data(data: object, *, file: Path, env: Mapping[str, str]) -> JsonObject:
    """Apply the transforms to the data parsed from `file`; the root must stay an object."""
    transformer = _Transformer(env=env, root_file=file)
    result = transformer.transform(data, "", file)
    if not isinstance(result, dict):
        raise ConfigError(
            f"Failed to read config file '{file}', expected an object at the root, "
            f"got {'nothing' if isinstance(result, _Removed) else type(result).__name__}"
        )
    return result


def substitute(text: str, env: Mapping[str, str]) -> str | _Removed:
    """Substitute `${VAR}` references in `text`; `_REMOVED` if a variable is unset."""
    parts = _SUBSTITUTION.split(text)
    out: list[str] = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            out.append(part)
            continue
        if part.startswith("$$"):
            out.append(part[1:])
            continue
        name, separator, fallback = part[2:-1].partition(":-")
        value = _read_env(env, name.strip())
        if separator:
            value = value or fallback
        if value is None:
            return _REMOVED
        out.append(value)
    return "".join(out)


def _read_env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return None if value is None else value.strip()


class _TransformError(Exception):
    """A transform failed at the current node; the walker adds the key path and file."""


class _Transformer:
    def __init__(self, *, env: Mapping[str, str], root_file: Path) -> None:
        self._env = env
        self._root_file = root_file

    def transform(self, value: object, path: str, file: Path) -> JsonValue | _Removed:
        """Transform `value`, found at key `path` in `file` (the root file or an include)."""
        try:
            return self._transform_node(value, path, file)
        except _TransformError as error:
            where = f"'{path}'" if path else "the root"
            source = "" if file == self._root_file else f" (in included file '{file}')"
            raise ConfigError(
                f"Failed to read config file '{self._root_file}', error at {where}{source}: {error}"
            ) from None

    def _transform_node(self, value: object, path: str, file: Path) -> JsonValue | _Removed:
        if value is None:
            return _REMOVED
        if isinstance(value, str):
            return substitute(value, self._env)
        if isinstance(value, bool | int | float):
            return value
        if isinstance(value, list):
            items = (self.transform(item, f"{path}[{i}]", file) for i, item in enumerate(value))
            return [item for item in items if not isinstance(item, _Removed)]
        if isinstance(value, dict):
            include_keys = [key for key in value if key in _INCLUDE_KEYS]
            if include_keys:
                return self._include(value, include_keys[0], path, file)
            result: JsonObject = {}
            for key, item in value.items():
                transformed = self.transform(item, f"{path}.{key}" if path else str(key), file)
                if not isinstance(transformed, _Removed):
                    result[str(key)] = transformed
            return result
        raise _TransformError(f"unsupported value of type {type(value).__name__}")

    def _include(
        self, node: Mapping[object, object], key: str, path: str, file: Path
    ) -> JsonValue | _Removed:
        if len(node) != 1:
            others = ", ".join(f"'{other}'" for other in node if other != key)
            raise _TransformError(f"include key {key} should not have adjacent keys ({others})")
        raw = node[key]
        if not isinstance(raw, str):
            raise _TransformError(f"{key} include value is not a string")
        target = substitute(raw, self._env)
        if isinstance(target, _Removed):
            raise _TransformError(f"{key} substitution value was undefined")
        if key == "$env":
            value = _read_env(self._env, target)
            return _REMOVED if value is None else value
        if key == "$file":
            return _read_text(file.parent / target).rstrip()
        return self._include_file(target, path, file)

    def _include_file(self, target: str, path: str, file: Path) -> JsonValue | _Removed:
        file_part, _, data_path = target.partition("#")
        included = file.parent / file_part
        if included.suffix not in _INCLUDE_SUFFIXES:
            raise _TransformError(
                f"no configuration parser available for included file {file_part}"
            )
        text = _read_text(included)
        if included.suffix == ".json":
            try:
                value: object = json.loads(text)
            except json.JSONDecodeError as error:
                raise _TransformError(
                    f"failed to parse included file '{included}' at line {error.lineno}, "
                    f"column {error.colno}: {error.msg}"
                ) from None
        else:
            try:
                value = parse_yaml(text, str(included))
            except ConfigError as error:
                raise _TransformError(error.message) from None
        parts = data_path.split(".") if data_path else []
        for index, part in enumerate(parts):
            if not isinstance(value, dict):
                where = ".".join(parts[:index]) or "the root"
                raise _TransformError(
                    f"value at '{where}' in included file {file_part} is not an object"
                )
            value = value.get(part)
        return self.transform(value, path, included)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _TransformError(f"failed to include '{path}', file does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise _TransformError(f"failed to read '{path}', {error}") from None
