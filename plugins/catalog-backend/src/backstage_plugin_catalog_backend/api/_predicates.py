"""Filter predicates (the model of `backstage_plugin_catalog_common`) as SQL.

Each field condition becomes an EXISTS over the `search` rows of the entity, so any
combination stays one set-based query. Predicates arrive parsed and within their limits;
what only the SQL can refuse (the object form of `$contains` outside `relations`) is an
InputError here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import VALUE_OPERATORS, Predicate, combine_all, is_primitive
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import NamedFromClause

from backstage_plugin_catalog_backend._tables import search

__all__ = [
    "predicate_clause",
    "search_text",
    "split_equality",
    "split_required",
]

_encode = msgspec.json.encode
# The search table without its foreign key: each condition aliases the table, and an
# alias of the full table copies the foreign key, most of the cost of building a condition.
_search_rows = sa.table(search.name, *(sa.column(column.name, column.type) for column in search.c))


def search_text(value: str | int | float | bool) -> str:
    """A primitive as the lowercased text the search table stores (JavaScript's String())."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).lower()


# Keys most entities share a few values of: a poor first condition to walk.
_BROAD_KEYS = frozenset({"kind", "apiversion", "metadata.namespace"})


def _conjuncts(predicate: Predicate) -> list[Predicate]:
    """The conditions a predicate ANDs at its top (through nested `$all` arrays)."""
    parts: list[Predicate] = []
    for key, value in predicate.items():
        if key == "$all" and isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for item in value:
                parts.extend(_conjuncts(item))
        else:
            parts.append({key: value})
    return parts


def split_required(predicate: Predicate | None, key: str) -> tuple[str, Predicate | None] | None:
    """The search text every match must have for `key` (lowercased), from a `key: primitive`
    condition the predicate ANDs at its top, with the predicate left once it is taken out;
    None when it has no such condition."""
    if predicate is None:
        return None
    parts = _conjuncts(predicate)
    for index, part in enumerate(parts):
        [(field, value)] = part.items()
        if field.lower() == key and is_primitive(value):
            return search_text(value), combine_all(parts[:index] + parts[index + 1 :])
    return None


def split_equality(predicate: Predicate | None) -> tuple[str, str, Predicate | None] | None:
    """A `field: primitive` condition that every match must meet, as (lowercased key,
    search text), with the predicate left once it is taken out; None when there is none.

    A query can walk the search rows of that key and value (one per entity at most, as
    rows are unique per entity, key and value) instead of every entity.
    """
    if predicate is None:
        return None
    parts = _conjuncts(predicate)
    found = [
        index
        for index, part in enumerate(parts)
        if not next(iter(part)).startswith("$") and is_primitive(next(iter(part.values())))
    ]
    if not found:
        return None
    narrow = [index for index in found if next(iter(parts[index])).lower() not in _BROAD_KEYS]
    chosen = (narrow or found)[0]
    [(field, value)] = parts[chosen].items()
    rest = parts[:chosen] + parts[chosen + 1 :]
    return field.lower(), search_text(value), combine_all(rest)


def _exists(
    entity_id: ColumnElement[Any], build: Callable[[NamedFromClause], list[ColumnElement[bool]]]
) -> ColumnElement[bool]:
    flt = _search_rows.alias("search_flt")
    return sa.exists().where(flt.c.entity_id == entity_id, *build(flt))


def _relation_contains(
    flt: NamedFromClause, target: Mapping[str, Any]
) -> list[ColumnElement[bool]]:
    relation_type: str | None = None
    targets: list[str] | None = None
    for raw_key, value in target.items():
        key = raw_key.lower()
        if key == "type":
            if relation_type is not None:
                raise InputError(f'Duplicate key "{raw_key}" in $contains for "relations"')
            if not isinstance(value, str):
                raise InputError(
                    'The $contains operator for "relations" requires a "type" string property'
                )
            relation_type = value
        elif key == "targetref":
            if targets is not None:
                raise InputError(f'Duplicate key "{raw_key}" in $contains for "relations"')
            targets = _relation_targets(value)
        else:
            raise InputError(
                f'Unsupported key "{raw_key}" in $contains for "relations". '
                'Only "type" and "targetRef" are supported'
            )
    if not relation_type:
        raise InputError('The $contains operator for "relations" requires a "type" string property')
    conditions = [flt.c.key == f"relations.{relation_type.lower()}"]
    if targets is not None:
        conditions.append(flt.c.value.in_(targets))
    return conditions


def _relation_targets(value: object) -> list[str]:
    if isinstance(value, str):
        return [value.lower()]
    if (
        isinstance(value, dict)
        and list(value) == ["$in"]
        and isinstance(value["$in"], list)
        and all(isinstance(item, str) for item in value["$in"])
    ):
        if not value["$in"]:
            raise InputError('Empty "$in" array for $contains on "relations" is not allowed')
        return [item.lower() for item in value["$in"]]
    raise InputError(
        'Unsupported value in $contains for "relations": expected a string or '
        f'{{ "$in": [strings] }}, but got {_encode(value).decode()}'
    )


def _field_conditions(
    flt: NamedFromClause, key: str, operator: str, operand: Any
) -> list[ColumnElement[bool]]:
    if operator == "$in":
        return [flt.c.key == key, flt.c.value.in_([search_text(v) for v in operand])]
    if operator == "$hasPrefix":
        escaped = str(operand).lower().replace("\\", "\\\\")
        escaped = escaped.replace("%", "\\%").replace("_", "\\_")
        return [flt.c.key == key, flt.c.value.like(f"{escaped}%", escape="\\")]
    # $contains
    if is_primitive(operand):
        return [flt.c.key == key, flt.c.value == search_text(operand)]
    if isinstance(operand, dict) and key == "relations":
        return _relation_contains(flt, operand)
    if isinstance(operand, dict):
        raise InputError(f'Object form of $contains is not supported for field "{key}"')
    raise InputError(f'Unsupported $contains target for field "{key}": {_encode(operand).decode()}')


def _field_clause(entity_id: ColumnElement[Any], field: str, value: object) -> ColumnElement[bool]:
    key = field.lower()
    if is_primitive(value):
        text = search_text(value)  # type: ignore[arg-type]
        return _exists(entity_id, lambda flt: [flt.c.key == key, flt.c.value == text])
    operator, operand = next(iter(value.items())) if isinstance(value, dict) else ("", None)
    if not isinstance(value, dict) or len(value) != 1 or operator not in VALUE_OPERATORS:
        raise InputError(
            f'Invalid filter predicate value for field "{key}": expected a primitive value, '
            "$exists, $in, $hasPrefix, or $contains operator, but got "
            f"{_encode(value).decode()}"
        )
    if operator == "$exists":
        found = _exists(entity_id, lambda flt: [flt.c.key == key])
        return found if operand else ~found
    if operator == "$in" and not operand:
        return sa.false()
    return _exists(entity_id, lambda flt: _field_conditions(flt, key, operator, operand))


def _logic_clause(
    operator: str, operand: Any, entity_id: ColumnElement[Any]
) -> ColumnElement[bool]:
    if operator == "$not":
        return sa.not_(predicate_clause(operand, entity_id))
    if operator in ("$all", "$any") and isinstance(operand, list):
        parts = [predicate_clause(item, entity_id) for item in operand]
        if operator == "$all":
            return sa.and_(*parts) if parts else sa.true()
        return sa.or_(*parts) if parts else sa.false()
    raise InputError(
        "Invalid filter predicate: operators must be $all or $any with an array, or $not, "
        f"but got {_encode({operator: operand}).decode()}"
    )


def predicate_clause(predicate: object, entity_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """A WHERE clause selecting the entities (by `entity_id`) that match `predicate`.

    Logic operators may sit beside field keys in one object (Backstage asks for them to be
    wrapped in `$all`): every key of an object is one condition, and they are ANDed.
    """
    if not isinstance(predicate, dict):
        raise InputError(
            "Invalid filter predicate: top-level primitive values are not supported. Wrap "
            f'the value in a field expression, e.g. {{ "kind": {_encode(predicate).decode()} }}'
        )
    parts = [
        _logic_clause(key, value, entity_id)
        if key.startswith("$")
        else _field_clause(entity_id, key, value)
        for key, value in predicate.items()
    ]
    if not parts:
        return sa.true()
    return parts[0] if len(parts) == 1 else sa.and_(*parts)
