"""Ordering and keyset pagination over sort values taken from the `search` table.

An entity's sort value for a field is the lowest (lowercased) value among its search rows
for that key, so an entity appears once even when the key has several values (tags).
Entities without a value sort last. The entity uid breaks ties, so that every row has a
unique position and a page can start strictly after the previous page's last row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from backstage_common.errors import InputError
from sqlalchemy.sql.elements import ColumnElement

from backstage_plugin_catalog_backend._tables import search
from backstage_plugin_catalog_backend.api._input import MAX_ORDER_FIELDS, check_count

__all__ = [
    "OrderField",
    "SortColumn",
    "keyset_clause",
    "order_by",
    "parse_order_field_params",
    "parse_order_params",
    "smallest_value",
]

Direction = Literal["asc", "desc"]


@dataclass(frozen=True)
class OrderField:
    field: str
    order: Direction

    @property
    def key(self) -> str:
        return self.field.lower()


@dataclass(frozen=True)
class SortColumn:
    """A column the rows are ordered by; `nullable` ones sort their NULLs last."""

    column: ColumnElement[Any]
    descending: bool
    nullable: bool


def parse_order_params(values: Sequence[str]) -> list[OrderField]:
    """`order=asc:<field>` / `order=desc:<field>` (GET /entities)."""
    check_count(len(values), MAX_ORDER_FIELDS, "order fields")
    fields = []
    for value in values:
        direction, colon, field = value.partition(":")
        if not colon or direction not in ("asc", "desc") or not field:
            raise InputError(
                f'Invalid order parameter "{value}", expected "<asc or desc>:<field name>"'
            )
        fields.append(OrderField(field, "asc" if direction == "asc" else "desc"))
    return fields


def parse_order_field_params(values: Sequence[str]) -> list[OrderField]:
    """`orderField=<field>[,asc|desc]` (GET /entities/by-query); every one is honoured."""
    fields = []
    for value in values:
        parts = value.split(",")
        field, order = parts[0], parts[1] if len(parts) > 1 else "asc"
        if order not in ("asc", "desc"):
            raise InputError("Invalid order field order, must be asc or desc")
        if not field.strip():
            raise InputError(f'Invalid orderField "{value}", expected "<field>,<asc or desc>"')
        fields.append(OrderField(field.strip(), "asc" if order == "asc" else "desc"))
    return fields


def smallest_value(entity_id: ColumnElement[Any], key: str) -> ColumnElement[Any]:
    """The entity's sort value for `key`: its lowest search value, NULL when none."""
    row = search.alias("search_sort")
    return (
        sa.select(sa.func.min(row.c.value))
        .where(row.c.entity_id == entity_id, row.c.key == key)
        .scalar_subquery()
    )


def order_by(columns: Sequence[SortColumn], *, backwards: bool) -> list[ColumnElement[Any]]:
    """ORDER BY terms: NULLs last in the natural direction (first when walking back)."""
    terms: list[ColumnElement[Any]] = []
    for sort in columns:
        descending = sort.descending != backwards
        term = sort.column.desc() if descending else sort.column.asc()
        if sort.nullable:
            term = term.nulls_first() if backwards else term.nulls_last()
        terms.append(term)
    return terms


# A sort value, or a bound parameter standing for one (None: the entity has no value).
SortValue = str | sa.BindParameter[str] | None


def _equal(sort: SortColumn, value: SortValue) -> ColumnElement[bool]:
    return sort.column.is_(None) if value is None else sort.column == value


def _ahead(sort: SortColumn, value: SortValue, backwards: bool) -> ColumnElement[bool]:
    """Rows strictly past `value` on this column, in the direction of the walk."""
    if not backwards:
        if value is None:
            return sa.false()
        beyond = sort.column < value if sort.descending else sort.column > value
        return sa.or_(beyond, sort.column.is_(None)) if sort.nullable else beyond
    if value is None:
        return sort.column.is_not(None)
    return sort.column > value if sort.descending else sort.column < value


def keyset_clause(
    columns: Sequence[SortColumn], values: Sequence[SortValue], *, backwards: bool
) -> ColumnElement[bool]:
    """Rows after (or, walking back, before) the row whose sort values are `values`."""
    alternatives: list[ColumnElement[bool]] = []
    for index, sort in enumerate(columns):
        ties = [_equal(columns[j], values[j]) for j in range(index)]
        alternatives.append(sa.and_(*ties, _ahead(sort, values[index], backwards)))
    clause = sa.or_(*alternatives)
    first = columns[0]
    if not first.nullable and values[0] is not None:
        # A plain range bound on the leading column lets the database seek its index.
        descending = first.descending != backwards
        bound = first.column <= values[0] if descending else first.column >= values[0]
        clause = sa.and_(bound, clause)
    return clause
