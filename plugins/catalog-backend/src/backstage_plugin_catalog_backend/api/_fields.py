"""`fields=`: keep only the named subtrees of each entity.

Paths are dotted; a key that itself contains dots (`metadata.annotations.backstage.io/view-url`)
is found by gluing a segment that does not exist onto the next one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from backstage_common.errors import InputError

from backstage_plugin_catalog_backend.api._input import MAX_FIELDS, check_count

__all__ = ["Projection", "parse_fields"]

_MISSING = object()


class Projection:
    """A parsed `fields` list; `apply(entity)` returns the projected copy."""

    __slots__ = ("fields",)

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)

    def apply(self, entity: dict[str, Any]) -> dict[str, Any]:
        output: dict[str, Any] = {}
        for field in self.fields:
            path, value = _resolve(entity, field)
            if value is not _MISSING and path:
                _set(output, path, value)
        return output


def _resolve(entity: dict[str, Any], field: str) -> tuple[list[str], Any]:
    parts = field.split(".")
    path: list[str] = []
    current: Any = entity
    pending = ""
    for index, part in enumerate(parts):
        key = f"{pending}.{part}" if pending else part
        if isinstance(current, dict) and key in current:
            path.append(key)
            current = current[key]
            pending = ""
        elif index + 1 < len(parts):
            pending = key
        else:
            return path, _MISSING
    return path, current


def _set(output: dict[str, Any], path: list[str], value: Any) -> None:
    target = output
    for key in path[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = {}
            target[key] = child
        target = child
    target[path[-1]] = value


def parse_fields(values: Iterable[str]) -> Projection | None:
    """The `fields` parameters (each comma-separated, may repeat); None when empty."""
    fields: dict[str, None] = {}
    for value in values:
        for raw in value.split(","):
            field = raw.strip()
            if field:
                fields[field] = None
    if not fields:
        return None
    # each field is resolved in every entity served: the count bounds a response's CPU
    check_count(len(fields), MAX_FIELDS, "fields")
    for field in fields:
        if "[" in field:
            raise InputError(f'Invalid field "{field}", array type fields are not supported')
    return Projection(list(fields))
