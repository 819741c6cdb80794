"""Predicates of `POST /locations/by-query` as SQL over the `locations` table.

The query is the catalog's predicate model (`backstage_plugin_catalog_common`), parsed
once by the route; here it meets the four location fields (`id`, `type`, `target`,
`entityRef`, keys case-insensitive). Every value operator applies to every field and
compares case-insensitively, as on entities: a primitive or `$contains` (a location field
holds one value) is equality, `$in` one of several, `$hasPrefix` a prefix, `$exists`
whether the field is set.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import Predicate, is_primitive

from backstage_plugin_catalog_backend._tables import locations
from backstage_plugin_catalog_backend.api._predicates import search_text

__all__ = ["location_predicate"]

_COLUMNS = {
    "id": locations.c.id,
    "type": locations.c.type,
    "target": locations.c.target,
    "entityref": locations.c.location_entity_ref,
}


def _prefix_pattern(prefix: str) -> str:
    escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def _field(key: str, value: Any) -> sa.ColumnElement[bool]:
    column = _COLUMNS.get(key.lower())
    if column is None:
        raise InputError(f"Invalid query: unknown location field '{key}'")
    lowered = sa.func.lower(column)
    if is_primitive(value):
        return lowered == search_text(value)
    [(operator, operand)] = value.items()
    if operator == "$exists":
        return column.is_not(None) if operand else column.is_(None)
    if operator == "$in":
        return lowered.in_([search_text(item) for item in operand]) if operand else sa.false()
    if operator == "$hasPrefix":
        return lowered.like(_prefix_pattern(operand), escape="\\")
    if is_primitive(operand):  # $contains
        return lowered == search_text(operand)
    raise InputError(f"Invalid query: the object form of $contains is not supported for '{key}'")


def location_predicate(predicate: Predicate) -> sa.ColumnElement[bool]:
    """A WHERE clause over `locations` for a parsed predicate; every key of an object is
    one condition, and they are ANDed.

    Args:
        predicate: a predicate from `parse_predicate` (well formed, within the limits).

    Raises:
        InputError: it names a field locations do not have, or uses the object form of
            `$contains`.
    """
    parts: list[sa.ColumnElement[bool]] = []
    for key, value in predicate.items():
        if key == "$all":
            parts.append(sa.and_(sa.true(), *(location_predicate(item) for item in value)))
        elif key == "$any":
            parts.append(sa.or_(sa.false(), *(location_predicate(item) for item in value)))
        elif key == "$not":
            parts.append(sa.not_(location_predicate(value)))
        else:
            parts.append(_field(key, value))
    return sa.and_(sa.true(), *parts)
