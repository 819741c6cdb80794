"""JSON Schema types as Backstage's config loader checks them (ajv with `coerceTypes`)."""

from __future__ import annotations

import re

from jsonschema import Draft7Validator
from jsonschema import validators as jsonschema_validators

__all__ = ["CoercingValidator"]

_NUMBER = re.compile(r"^\s*-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
_INTEGER = re.compile(r"^\s*-?\d+\s*$")


def _is_number(checker: object, value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(_NUMBER.match(value))


def _is_integer(checker: object, value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return True
    return isinstance(value, str) and bool(_INTEGER.match(value))


def _is_boolean(checker: object, value: object) -> bool:
    return isinstance(value, bool) or value in ("true", "false")


def _is_string(checker: object, value: object) -> bool:
    return isinstance(value, str | int | float)


# Backstage's loader validates with ajv's `coerceTypes`: what the config reader's getters
# accept (`getNumber('7007')`) is not a type error here either.
CoercingValidator = jsonschema_validators.extend(  # type: ignore[no-untyped-call]
    Draft7Validator,
    type_checker=Draft7Validator.TYPE_CHECKER.redefine_many(
        {
            "number": _is_number,
            "integer": _is_integer,
            "boolean": _is_boolean,
            "string": _is_string,
        }
    ),
)
