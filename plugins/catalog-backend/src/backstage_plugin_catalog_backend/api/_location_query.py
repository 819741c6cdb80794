"""Predicates of `POST /locations/by-query` as SQL over the `locations` table."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from backstage_common.errors import InputError

from backstage_plugin_catalog_backend._tables import locations

__all__ = ["location_predicate"]

_COLUMNS = {
    "id": locations.c.id,
    "type": locations.c.type,
    "target": locations.c.target,
    "entityref": locations.c.location_entity_ref,
}


def _field(key: str, value: Any) -> sa.ColumnElement[bool]:
    column = _COLUMNS.get(key.lower())
    if column is None:
        raise InputError(f"Invalid query: unknown location field '{key}'")
    lowered = sa.func.lower(column)
    if isinstance(value, str | int | float | bool):
        return lowered == str(value).lower()
    if isinstance(value, dict) and len(value) == 1:
        [(operator, argument)] = value.items()
        if operator == "$exists" and isinstance(argument, bool):
            return column.is_not(None) if argument else column.is_(None)
        if operator == "$in" and isinstance(argument, list):
            return lowered.in_([str(item).lower() for item in argument])
    raise InputError(f"Invalid query: unsupported value for location field '{key}'")


def location_predicate(query: Any) -> sa.ColumnElement[bool]:
    if not isinstance(query, dict):
        raise InputError("Invalid query: a predicate must be an object")
    if len(query) == 1:
        [(key, value)] = query.items()
        if key == "$all" and isinstance(value, list):
            return sa.and_(sa.true(), *(location_predicate(item) for item in value))
        if key == "$any" and isinstance(value, list):
            return sa.or_(sa.false(), *(location_predicate(item) for item in value))
        if key == "$not":
            return sa.not_(location_predicate(value))
    if any(key.startswith("$") for key in query):
        raise InputError(f"Invalid query: unknown operator in {list(query)}")
    return sa.and_(sa.true(), *(_field(key, value) for key, value in query.items()))
