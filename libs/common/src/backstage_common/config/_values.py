"""JSON value types, key validation and value coercion shared by the reader and the loader."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TypeAlias

from backstage_common.config._errors import ConfigError

__all__ = [
    "JsonObject",
    "JsonPrimitive",
    "JsonValue",
    "copy_json",
    "is_valid_key_part",
    "merge_objects",
    "parse_boolean",
    "parse_number",
    "type_name",
]

JsonPrimitive: TypeAlias = str | int | float | bool | None
JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
JsonObject: TypeAlias = dict[str, JsonValue]

# One dot-separated part of a key read through `Config`, as Backstage's ConfigReader checks it.
_KEY_PART = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z][a-z0-9]*)*", re.IGNORECASE)

# What JavaScript's Number() accepts, minus the empty string and Infinity: plain decimals
# and the 0x/0o/0b integer forms.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_RADIX_INTEGER = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")

# The string forms Backstage's getBoolean accepts (case-insensitive, after trimming).
_TRUE = re.compile(r"y|yes|true|1|on", re.IGNORECASE)
_FALSE = re.compile(r"n|no|false|0|off", re.IGNORECASE)


def is_valid_key_part(part: str) -> bool:
    """Whether `part` is a valid segment of a dotted config key."""
    return _KEY_PART.fullmatch(part) is not None


def type_name(value: object) -> str:
    """The type name Backstage uses in config errors (`number`, `empty-string`, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else "number"
    if isinstance(value, str):
        return "empty-string" if value == "" else "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def parse_number(text: str) -> int | float | None:
    """Parse a numeric string as Backstage's getNumber does; None if it is not a number.

    Integer forms give an int, anything with a fraction or exponent a float. Unlike
    JavaScript's Number(), an empty or blank string is not read as 0.
    """
    stripped = text.strip()
    if _RADIX_INTEGER.fullmatch(stripped):
        return int(stripped, 0)
    if _INTEGER.fullmatch(stripped):
        return int(stripped)
    if _DECIMAL.fullmatch(stripped):
        number = float(stripped)
        return number if math.isfinite(number) else None
    return None


def parse_boolean(value: str | int | float) -> bool | None:
    """Coerce `y/yes/true/1/on` and `n/no/false/0/off` (or the numbers 1 and 0) to a bool."""
    if isinstance(value, int | float):
        if value == 1:
            return True
        if value == 0:
            return False
        return None
    stripped = value.strip()
    if _TRUE.fullmatch(stripped):
        return True
    if _FALSE.fullmatch(stripped):
        return False
    return None


def copy_json(value: object, where: str, context: str) -> JsonValue:
    """Deep-copy `value` into plain dicts and lists, rejecting anything that is not JSON-like."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        result: JsonObject = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"Invalid config key {key!r} under '{where or '<root>'}' in '{context}', "
                    "keys must be strings"
                )
            result[key] = copy_json(item, f"{where}.{key}" if where else key, context)
        return result
    if isinstance(value, list | tuple):
        return [copy_json(item, f"{where}[{index}]", context) for index, item in enumerate(value)]
    raise ConfigError(
        f"Invalid type in config for key '{where or '<root>'}' in '{context}', "
        f"got {type(value).__name__}, wanted a JSON value"
    )


def merge_objects(lower: Mapping[str, JsonValue], higher: Mapping[str, JsonValue]) -> JsonObject:
    """Deep-merge two config objects: objects merge, arrays and scalars from `higher` win."""
    result: JsonObject = dict(lower)
    for key, value in higher.items():
        current = result.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            result[key] = merge_objects(current, value)
        else:
            result[key] = value
    return result
