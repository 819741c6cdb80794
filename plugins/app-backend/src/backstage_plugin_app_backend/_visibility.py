"""The frontend-visible part of the config, by the bundle's own schema (`.config-schema.json`,
which the frontend build serialises from the frontend packages' `config.d.ts`).

As Backstage's config loader does it: every value is `backend` unless its own schema node says
`visibility: frontend`, or an ancestor says `deepVisibility: frontend`; an object or array
marked `frontend` is kept even when nothing inside it is (so `auth.providers.github` becomes
`{}`, naming the provider and nothing else); `secret` values are never kept, whatever an
ancestor says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["frontend_visible", "schema_values"]

_RANK = {"frontend": 0, "backend": 1, "secret": 2}
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
}

Path = tuple[str | int, ...]


def _matches_type(schema: Mapping[str, Any], value: Any) -> bool:
    declared = schema.get("type")
    if declared is None:
        return True
    for name in [declared] if isinstance(declared, str) else declared:
        if name in ("number", "integer"):
            if isinstance(value, int | float) and not isinstance(value, bool):
                return True
        elif isinstance(value, _JSON_TYPES.get(name, ())):
            return True
    return False


class _Collector:
    """Walks a config value alongside one schema and records each path's visibility."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root
        self.visibility: dict[Path, str] = {}
        self.deep: dict[Path, str] = {}

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = schema.get("$ref")
        seen = 0
        while isinstance(ref, str) and ref.startswith("#/") and seen < 32:
            target: Any = self._root
            for part in ref[2:].split("/"):
                target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
            schema = target if isinstance(target, Mapping) else {}
            ref = schema.get("$ref")
            seen += 1
        return schema

    def _record(self, into: dict[Path, str], path: Path, visibility: Any) -> None:
        if visibility not in _RANK:
            return
        current = into.get(path)
        # Two schemas that disagree: the more restricted visibility wins.
        if current is None or _RANK[visibility] > _RANK[current]:
            into[path] = visibility

    def walk(self, schema: Any, value: Any, path: Path) -> None:
        if not isinstance(schema, Mapping):
            return
        schema = self._resolve(schema)
        if not _matches_type(schema, value):
            return
        self._record(self.visibility, path, schema.get("visibility"))
        self._record(self.deep, path, schema.get("deepVisibility"))
        for keyword in ("allOf", "anyOf", "oneOf"):
            for branch in schema.get(keyword) or ():
                self.walk(branch, value, path)
        if isinstance(value, dict):
            self._walk_object(schema, value, path)
        elif isinstance(value, list):
            self._walk_array(schema, value, path)

    def _walk_object(self, schema: Mapping[str, Any], value: dict[str, Any], path: Path) -> None:
        properties = schema.get("properties") or {}
        patterns = schema.get("patternProperties") or {}
        additional = schema.get("additionalProperties")
        for key, child in value.items():
            matched = False
            if key in properties:
                self.walk(properties[key], child, (*path, key))
                matched = True
            for pattern, child_schema in patterns.items():
                if re.search(pattern, key):
                    self.walk(child_schema, child, (*path, key))
                    matched = True
            if not matched and isinstance(additional, Mapping):
                self.walk(additional, child, (*path, key))

    def _walk_array(self, schema: Mapping[str, Any], value: list[Any], path: Path) -> None:
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, child in enumerate(value):
                self.walk(items, child, (*path, index))
        elif isinstance(items, list):
            for index, (child_schema, child) in enumerate(zip(items, value, strict=False)):
                self.walk(child_schema, child, (*path, index))


_DROP = object()


def _filter(
    value: Any, path: Path, inherited: str, visibility: dict[Path, str], deep: dict[Path, str]
) -> Any:
    own = visibility.get(path) or deep.get(path) or inherited
    visible = own == "frontend"
    children_inherit = deep.get(path) or inherited
    if own == "secret":
        return _DROP
    if isinstance(value, dict):
        kept = {}
        for key, child in value.items():
            filtered = _filter(child, (*path, key), children_inherit, visibility, deep)
            if filtered is not _DROP:
                kept[key] = filtered
        return kept if kept or visible else _DROP
    if isinstance(value, list):
        items = [
            filtered
            for index, child in enumerate(value)
            if (filtered := _filter(child, (*path, index), children_inherit, visibility, deep))
            is not _DROP
        ]
        return items if items or visible else _DROP
    return value if visible else _DROP


def frontend_visible(
    config: Mapping[str, Any], schemas: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The part of `config` that the frontend may see.

    Args:
        config: the whole config, as plain JSON-like data.
        schemas: JSON schemas (the `value` of each entry of the bundle's
            `.config-schema.json`), with Backstage's `visibility` and `deepVisibility`
            keywords.
    """
    visibility: dict[Path, str] = {}
    deep: dict[Path, str] = {}
    for schema in schemas:
        collector = _Collector(schema)
        collector.walk(schema, dict(config), ())
        for path, value in collector.visibility.items():
            current = visibility.get(path)
            if current is None or _RANK[value] > _RANK[current]:
                visibility[path] = value
        for path, value in collector.deep.items():
            current = deep.get(path)
            if current is None or _RANK[value] > _RANK[current]:
                deep[path] = value
    result = _filter(dict(config), (), "backend", visibility, deep)
    return {} if result is _DROP else dict(result)


def schema_values(document: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The schemas of a `.config-schema.json` document."""
    return [
        entry["value"]
        for entry in document.get("schemas") or ()
        if isinstance(entry, Mapping) and isinstance(entry.get("value"), Mapping)
    ]
