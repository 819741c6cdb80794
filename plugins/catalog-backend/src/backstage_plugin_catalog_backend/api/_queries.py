"""The SQL behind the entity reads: filtered, ordered entity selects, counts, refs, facets.

Every read is one set-based statement over `final_entities` with EXISTS conditions on
`search`; nothing loops over entities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from backstage_plugin_catalog_backend._tables import final_entities, search
from backstage_plugin_catalog_backend.api._ordering import OrderField, SortColumn, smallest_value
from backstage_plugin_catalog_backend.api._predicates import Predicate, predicate_clause

__all__ = [
    "EntitySelect",
    "FullTextFilter",
    "count_entities",
    "entities_by_refs",
    "entity_facets",
    "select_entities",
]

_encode = msgspec.json.encode


@dataclass(frozen=True)
class FullTextFilter:
    """A lowercased substring that one of `keys` must contain."""

    term: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class EntitySelect:
    """A derived table of the matching entities (`entity_id`, `entity_ref`,
    `final_entity`, `sort_<i>`) and the columns that order it, uid last."""

    table: sa.Subquery
    sort_columns: list[SortColumn]

    def sort_values(self, row: Any) -> list[str | None]:
        return [row._mapping[sort.column.name] for sort in self.sort_columns]


def _conditions(
    entity_id: ColumnElement[Any], predicate: Predicate | None, full_text: FullTextFilter | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [final_entities.c.final_entity.is_not(None)]
    if predicate is not None:
        conditions.append(predicate_clause(predicate, entity_id))
    if full_text is not None and full_text.term:
        text = search.alias("search_text")
        conditions.append(
            sa.exists().where(
                text.c.entity_id == entity_id,
                text.c.key.in_(full_text.keys),
                text.c.value.like(f"%{full_text.term}%"),
            )
        )
    return conditions


def select_entities(
    order_fields: Sequence[OrderField],
    *,
    predicate: Predicate | None,
    full_text: FullTextFilter | None = None,
    require_first: bool = False,
    lacking_key: str | None = None,
    tie_breaker: str = "entity_id",
    tie_descending: bool | None = None,
) -> EntitySelect:
    """Matching entities with their sort values. With `require_first`, entities lacking a
    value for the first order field are left out, and that field's index drives the scan;
    with `lacking_key`, only entities without a value for that key are kept. The tie
    breaker follows the first order field's direction unless `tie_descending` is given.
    """
    fe = final_entities
    source: sa.FromClause = fe
    conditions = _conditions(fe.c.entity_id, predicate, full_text)
    if lacking_key is not None:
        row = search.alias("search_lacking")
        conditions.append(
            ~sa.exists().where(
                row.c.entity_id == fe.c.entity_id,
                row.c.key == lacking_key,
                row.c.value.is_not(None),
            )
        )
    sort_expressions: list[ColumnElement[Any]] = []
    for index, field in enumerate(order_fields):
        if index == 0 and require_first:
            driver = search.alias("order_0")
            lower = search.alias("order_0_lower")
            source = driver.join(fe, fe.c.entity_id == driver.c.entity_id)
            conditions += [
                driver.c.key == field.key,
                driver.c.value.is_not(None),
                ~sa.exists().where(
                    lower.c.entity_id == driver.c.entity_id,
                    lower.c.key == field.key,
                    lower.c.value < driver.c.value,
                ),
            ]
            sort_expressions.append(driver.c.value)
        else:
            sort_expressions.append(smallest_value(fe.c.entity_id, field.key))
    table = (
        sa.select(
            fe.c.entity_id,
            fe.c.entity_ref,
            fe.c.final_entity,
            *(expr.label(f"sort_{i}") for i, expr in enumerate(sort_expressions)),
        )
        .select_from(source)
        .where(*conditions)
        .subquery("entities")
    )
    first_descending = (
        tie_descending
        if tie_descending is not None
        else bool(order_fields) and order_fields[0].order == "desc"
    )
    columns = [
        SortColumn(
            table.c[f"sort_{i}"],
            descending=field.order == "desc",
            nullable=not (i == 0 and require_first),
        )
        for i, field in enumerate(order_fields)
    ]
    columns.append(SortColumn(table.c[tie_breaker], descending=first_descending, nullable=False))
    return EntitySelect(table, columns)


async def count_entities(
    connection: AsyncConnection,
    *,
    predicate: Predicate | None,
    full_text: FullTextFilter | None,
    required_key: str | None,
) -> int:
    """How many entities match; with `required_key`, only those having a value for it."""
    fe = final_entities
    conditions = _conditions(fe.c.entity_id, predicate, full_text)
    if required_key is not None:
        row = search.alias("search_required")
        conditions.append(
            sa.exists().where(
                row.c.entity_id == fe.c.entity_id,
                row.c.key == required_key,
                row.c.value.is_not(None),
            )
        )
    statement = sa.select(sa.func.count()).select_from(fe).where(*conditions)
    return int((await connection.execute(statement)).scalar_one())


def _ref_match(connection: AsyncConnection, refs: list[str]) -> ColumnElement[bool]:
    """`entity_ref` among `refs`, as one bound parameter whatever the number of refs."""
    if connection.dialect.name == "postgresql":
        array = sa.bindparam("refs", refs, type_=postgresql.ARRAY(sa.Text))
        return final_entities.c.entity_ref == sa.any_(array)
    listed: sa.Select[Any] = sa.select(sa.literal_column("value")).select_from(
        sa.func.json_each(sa.bindparam("refs", _encode(refs).decode()))
    )
    return final_entities.c.entity_ref.in_(listed)


async def entities_by_refs(
    connection: AsyncConnection, refs: Sequence[str], predicate: Predicate | None
) -> dict[str, str]:
    """Stored JSON text by lowercased ref, for the refs that exist and match."""
    wanted = sorted({ref.lower() for ref in refs})
    if not wanted:
        return {}
    fe = final_entities
    statement = sa.select(fe.c.entity_ref, fe.c.final_entity).where(
        _ref_match(connection, wanted), *_conditions(fe.c.entity_id, predicate, None)
    )
    return {ref: text for ref, text in await connection.execute(statement)}


async def entity_facets(
    connection: AsyncConnection, keys: Sequence[str], predicate: Predicate | None
) -> list[tuple[str, str, int]]:
    """(key, original value, number of entities) for the facet keys, in one grouped query."""
    statement = sa.select(search.c.key, search.c.original_value, sa.func.count()).where(
        search.c.key.in_(sorted(set(keys))), search.c.original_value.is_not(None)
    )
    if predicate is not None:
        fe = final_entities
        matching = (
            sa.select(fe.c.entity_id)
            .where(*_conditions(fe.c.entity_id, predicate, None))
            .subquery("filtered")
        )
        statement = statement.select_from(
            search.join(matching, matching.c.entity_id == search.c.entity_id)
        )
    statement = statement.group_by(search.c.key, search.c.original_value).order_by(
        search.c.key, search.c.original_value
    )
    return [(key, value, int(count)) for key, value, count in await connection.execute(statement)]
