"""Walking config schemas: the nodes that describe a key, open maps, declared visibility."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from backstage_common.config._schema_types import CoercingValidator

__all__ = [
    "ANY_VALUE",
    "Visibility",
    "allows_any_key",
    "children",
    "declared_visibility",
    "expand",
    "properties",
]

Visibility = Literal["frontend", "backend", "secret"]
_VISIBILITIES: frozenset[str] = frozenset({"frontend", "backend", "secret"})
_COMPOSITES = ("allOf", "anyOf", "oneOf")


class _Marker:
    __slots__ = ()


ANY_VALUE: Any = _Marker()
"""Stands for a value not known: every composite branch may describe it."""


def expand(nodes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The nodes and the branches of their `allOf`/`anyOf`/`oneOf`, recursively."""
    out: list[Mapping[str, Any]] = []
    pending = list(nodes)
    while pending:
        node = pending.pop()
        if not isinstance(node, Mapping):
            continue
        out.append(node)
        for keyword in _COMPOSITES:
            branches = node.get(keyword)
            if isinstance(branches, list):
                pending.extend(branches)
    return out


def properties(node: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = node.get("properties")
    return properties if isinstance(properties, Mapping) else {}


def allows_any_key(nodes: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a node here declares open-ended keys (a map), or describes no keys at all."""
    expanded = expand(nodes)
    for node in expanded:
        if node.get("additionalProperties") not in (None, False):
            return True
        if node.get("patternProperties"):
            return True
    return not any(properties(node) for node in expanded)


def children(node: Mapping[str, Any], key: str | int) -> list[Mapping[str, Any]]:
    """The schema nodes that describe `key` below `node`."""
    found: list[Mapping[str, Any]] = []
    for each in expand([node]):
        if isinstance(key, int):
            items = each.get("items")
            if isinstance(items, Mapping):
                found.append(items)
            elif isinstance(items, list) and key < len(items):
                found.append(items[key])
            continue
        child = properties(each).get(key)
        if isinstance(child, Mapping):
            found.append(child)
            continue
        for pattern, schema in (each.get("patternProperties") or {}).items():
            if re.search(pattern, key) and isinstance(schema, Mapping):
                found.append(schema)
        extra = each.get("additionalProperties")
        if isinstance(extra, Mapping):
            found.append(extra)
    return found


def declared_visibility(
    nodes: Sequence[Mapping[str, Any]], value: Any
) -> tuple[Visibility | None, Visibility | None]:
    """(`visibility`, `deepVisibility`) declared on these nodes and on those of their
    composite branches that `value` matches (all of them for `ANY_VALUE`); secret wins."""
    declared: set[str] = set()
    deep: set[str] = set()
    for node in _matching(nodes, value):
        if node.get("visibility") in _VISIBILITIES:
            declared.add(node["visibility"])
        if node.get("deepVisibility") in _VISIBILITIES:
            deep.add(node["deepVisibility"])
    return _strongest(declared), _strongest(deep)


def _matching(nodes: Sequence[Mapping[str, Any]], value: Any) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    pending = [node for node in nodes if isinstance(node, Mapping)]
    while pending:
        node = pending.pop()
        out.append(node)
        for keyword in _COMPOSITES:
            branches = node.get(keyword)
            if not isinstance(branches, list):
                continue
            for branch in branches:
                if not isinstance(branch, Mapping):
                    continue
                if (
                    value is ANY_VALUE
                    or keyword == "allOf"
                    or CoercingValidator(branch).is_valid(value)
                ):
                    pending.append(branch)
    return out


def _strongest(found: set[str]) -> Visibility | None:
    strongest: tuple[Visibility, ...] = ("secret", "frontend", "backend")
    for visibility in strongest:
        if visibility in found:
            return visibility
    return None
