"""The SQL behind the entity reads: filtered, ordered entity selects, counts, refs, facets.

Every read is one set-based statement: the matching ids come from the `search` table
(walking the rows of one `field: value` condition of the filter, in `entity_id` order, with
EXISTS probes for the others) and only the page of them is joined to `final_entities`;
nothing loops over entities.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_plugin_catalog_common import Predicate
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from backstage_plugin_catalog_backend._ref_kind import ref_kind
from backstage_plugin_catalog_backend._tables import final_entities, search
from backstage_plugin_catalog_backend.api._ordering import (
    OrderField,
    SortColumn,
    keyset_clause,
    order_by,
    smallest_value,
)
from backstage_plugin_catalog_backend.api._predicates import (
    predicate_clause,
    split_equality,
    split_required,
)

__all__ = [
    "EntitySelect",
    "FullTextFilter",
    "count_entities",
    "entities_by_refs",
    "entity_facets",
    "entity_text_where",
    "predicate_key",
    "select_entities",
]

_encode = msgspec.json.encode
_decode = msgspec.json.decode
# Statements kept for reuse, per kind: each is a few hundred small objects.
_STATEMENTS_KEPT = 256


def predicate_key(predicate: Predicate | None) -> bytes | None:
    """A predicate as a hashable key of the statement caches (its JSON)."""
    return None if predicate is None else _encode(predicate)


def _from_key(predicate_json: bytes | None) -> Predicate | None:
    decoded: Predicate | None = None if predicate_json is None else _decode(predicate_json)
    return decoded


@dataclass(frozen=True)
class FullTextFilter:
    """A lowercased substring that one of `keys` must contain."""

    term: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class EntitySelect:
    """A derived table of the matching entities' ids (`entity_id`, with `entity_ref` when it
    breaks ties, and `sort_<i>`) and the columns that order it, tie breaker last.

    It reads the `search` table alone whenever it can; `page` then joins the final entities
    to one page of ids only, so a page costs the same whatever the size of the catalog.
    Where the final entities are read anyway (no `field: value` condition to walk, or ties
    broken by ref), the table carries `final_entity` itself.
    """

    table: sa.Subquery
    sort_columns: list[SortColumn]
    _pages: dict[tuple[Any, ...], sa.Select[Any]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def sort_values(self, row: Any) -> list[str | None]:
        return [row._mapping[sort.column.name] for sort in self.sort_columns]

    def page(
        self,
        after: Sequence[str | None] | None = None,
        *,
        backwards: bool = False,
        limit: int | None = None,
        offset: int | None = None,
    ) -> tuple[sa.Select[Any], dict[str, Any]]:
        """The statement and its parameters for the rows (sort values and `final_entity`)
        after the row whose sort values are `after` (before it, walking back), in order.

        Values are bound at execution, so one statement serves every page of its shape
        (and SQLAlchemy compiles it once).
        """
        missing = None if after is None else tuple(value is None for value in after)
        shape = (backwards, missing, limit is not None, bool(offset))
        statement = self._pages.get(shape)
        if statement is None:
            statement = self._pages[shape] = self._page_statement(*shape)
        parameters: dict[str, Any] = {}
        if after is not None:
            parameters.update(
                (f"after_{index}", value) for index, value in enumerate(after) if value is not None
            )
        if limit is not None:
            parameters["page_limit"] = limit
        if offset:
            parameters["page_offset"] = offset
        return statement, parameters

    async def rows(
        self,
        connection: AsyncConnection,
        after: Sequence[str | None] | None = None,
        *,
        backwards: bool = False,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Any]:
        """The rows of `page`, read on `connection`."""
        statement, parameters = self.page(after, backwards=backwards, limit=limit, offset=offset)
        return list((await connection.execute(statement, parameters)).all())

    def _page_statement(
        self, backwards: bool, missing: tuple[bool, ...] | None, limited: bool, offset: bool
    ) -> sa.Select[Any]:
        ids = sa.select(self.table).order_by(*order_by(self.sort_columns, backwards=backwards))
        if missing is not None:
            after = [
                None if absent else sa.bindparam(f"after_{index}", type_=sa.Text)
                for index, absent in enumerate(missing)
            ]
            ids = ids.where(keyset_clause(self.sort_columns, after, backwards=backwards))
        if offset:
            # 64-bit: a page asks for one row more than the (32-bit) limit it was given
            ids = ids.offset(sa.bindparam("page_offset", type_=sa.BigInteger))
        if limited:
            ids = ids.limit(sa.bindparam("page_limit", type_=sa.BigInteger))
        if "final_entity" in self.table.c:  # read from the final entities already
            return ids
        page = ids.subquery("page")
        columns = [
            SortColumn(page.c[sort.column.name], sort.descending, sort.nullable)
            for sort in self.sort_columns
        ]
        fe = final_entities
        return (
            sa.select(page, fe.c.final_entity)
            .select_from(page.join(fe, fe.c.entity_id == page.c.entity_id))
            .order_by(*order_by(columns, backwards=backwards))
        )


@dataclass(frozen=True)
class _Matching:
    """Where matching entity ids come from: a FROM clause, its id column, its conditions."""

    source: sa.FromClause
    entity_id: ColumnElement[Any]
    conditions: list[ColumnElement[bool]]


def _full_text_clause(
    entity_id: ColumnElement[Any], full_text: FullTextFilter
) -> ColumnElement[bool]:
    text = search.alias("search_text")
    return sa.exists().where(
        text.c.entity_id == entity_id,
        text.c.key.in_(full_text.keys),
        text.c.value.like(f"%{full_text.term}%"),
    )


def _matching(
    predicate: Predicate | None,
    full_text: FullTextFilter | None,
    walked: _Matching | None = None,
) -> _Matching:
    """The ids of the entities matching `predicate` and `full_text`, among `walked`.

    Without `walked`, the search rows of a `field: value` condition of the predicate are
    walked (in `entity_id` order in their index) when it has one, else the final entities.
    """
    if walked is None:
        split = split_equality(predicate)
        if split is not None:
            key, value, predicate = split
            rows = search.alias("search_walk")
            walked = _Matching(rows, rows.c.entity_id, [rows.c.key == key, rows.c.value == value])
        else:
            fe = final_entities
            walked = _Matching(fe, fe.c.entity_id, [fe.c.final_entity.is_not(None)])
    if predicate is not None:
        walked.conditions.append(predicate_clause(predicate, walked.entity_id))
    if full_text is not None and full_text.term:
        walked.conditions.append(_full_text_clause(walked.entity_id, full_text))
    return walked


def _has_value(entity_id: ColumnElement[Any], key: str) -> ColumnElement[bool]:
    row = search.alias("search_value")
    return sa.exists().where(
        row.c.entity_id == entity_id, row.c.key == key, row.c.value.is_not(None)
    )


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
    breaker (`entity_id` or `entity_ref`) follows the first order field's direction
    unless `tie_descending` is given.

    The same query (a UI's filters, the pages of one cursor) gets the same statement
    objects back: building them costs more than running a page.
    """
    return _select_entities(
        tuple(order_fields),
        predicate_key(predicate),
        full_text,
        require_first,
        lacking_key,
        tie_breaker,
        tie_descending,
    )


@functools.lru_cache(maxsize=_STATEMENTS_KEPT)
def _select_entities(
    order_fields: tuple[OrderField, ...],
    predicate_json: bytes | None,
    full_text: FullTextFilter | None,
    require_first: bool,
    lacking_key: str | None,
    tie_breaker: str,
    tie_descending: bool | None,
) -> EntitySelect:
    predicate = _from_key(predicate_json)
    first_drives = require_first and bool(order_fields)
    walked = None
    if first_drives:
        # The first order field's search rows, in value order, each entity at its lowest.
        driver, lower = search.alias("order_0"), search.alias("order_0_lower")
        key = order_fields[0].key
        walked = _Matching(
            driver,
            driver.c.entity_id,
            [
                driver.c.key == key,
                driver.c.value.is_not(None),
                ~sa.exists().where(
                    lower.c.entity_id == driver.c.entity_id,
                    lower.c.key == key,
                    lower.c.value < driver.c.value,
                ),
            ],
        )
    fe = final_entities
    by_kind = split_required(predicate, "kind") if tie_breaker == "entity_ref" else None
    if walked is None and by_kind is not None:
        # In ref order, the entities of one kind are a range of the (kind of ref, ref)
        # index: walked from any keyset position, they come in order, with the rest of the
        # filter as probes. (The ref index alone would be read from its start, through every
        # other kind's refs; the kind's search rows come in id order and need a sort.)
        kind, predicate = by_kind
        walked = _Matching(
            fe, fe.c.entity_id, [fe.c.final_entity.is_not(None), ref_kind(fe.c.entity_ref) == kind]
        )
    matching = _matching(predicate, full_text, walked)
    source, entity_id, conditions = matching.source, matching.entity_id, matching.conditions
    if lacking_key is not None:
        conditions.append(~_has_value(entity_id, lacking_key))
    sort_expressions: list[ColumnElement[Any]] = [
        driver.c.value if index == 0 and first_drives else smallest_value(entity_id, field.key)
        for index, field in enumerate(order_fields)
    ]
    columns: list[ColumnElement[Any]] = [entity_id.label("entity_id")]
    if tie_breaker == "entity_ref":
        if matching.source is not fe:
            source = source.join(fe, fe.c.entity_id == entity_id)
        columns.append(fe.c.entity_ref)
    elif tie_breaker != "entity_id":
        raise ValueError(f"unknown tie breaker {tie_breaker!r}")
    if matching.source is fe or tie_breaker == "entity_ref":
        columns.append(fe.c.final_entity)
    table = (
        sa.select(*columns, *(expr.label(f"sort_{i}") for i, expr in enumerate(sort_expressions)))
        .select_from(source)
        .where(*conditions)
        .subquery("entities")
    )
    first_descending = (
        tie_descending
        if tie_descending is not None
        else bool(order_fields) and order_fields[0].order == "desc"
    )
    sort_columns = [
        SortColumn(
            table.c[f"sort_{i}"],
            descending=field.order == "desc",
            nullable=not (i == 0 and first_drives),
        )
        for i, field in enumerate(order_fields)
    ]
    sort_columns.append(
        SortColumn(table.c[tie_breaker], descending=first_descending, nullable=False)
    )
    return EntitySelect(table, sort_columns)


async def count_entities(
    connection: AsyncConnection,
    *,
    predicate: Predicate | None,
    full_text: FullTextFilter | None,
    required_key: str | None,
) -> int:
    """How many entities match; with `required_key`, only those having a value for it."""
    statement = _count_statement(predicate_key(predicate), full_text, required_key)
    return int((await connection.execute(statement)).scalar_one())


@functools.lru_cache(maxsize=_STATEMENTS_KEPT)
def _count_statement(
    predicate_json: bytes | None, full_text: FullTextFilter | None, required_key: str | None
) -> sa.Select[Any]:
    matching = _matching(_from_key(predicate_json), full_text)
    if required_key is not None:
        matching.conditions.append(_has_value(matching.entity_id, required_key))
    return sa.select(sa.func.count()).select_from(matching.source).where(*matching.conditions)


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
    conditions = [_ref_match(connection, wanted), fe.c.final_entity.is_not(None)]
    if predicate is not None:
        conditions.append(predicate_clause(predicate, fe.c.entity_id))
    statement = sa.select(fe.c.entity_ref, fe.c.final_entity).where(*conditions)
    return {ref: text for ref, text in await connection.execute(statement)}


async def entity_text_where(
    connection: AsyncConnection, column: str, key: str, predicate: Predicate
) -> str | None:
    """The stored JSON of the entity whose `column` (`entity_id` or `entity_ref`) is `key`,
    when it matches `predicate`; else None."""
    statement = _entity_where_statement(column, predicate_key(predicate))
    text: str | None = (await connection.execute(statement, {"key": key})).scalar()
    return text


@functools.lru_cache(maxsize=_STATEMENTS_KEPT)
def _entity_where_statement(column: str, predicate_json: bytes | None) -> sa.Select[Any]:
    fe = final_entities
    # one row at most, by the unique index of `column`; the predicate probes that row only
    return sa.select(fe.c.final_entity).where(
        fe.c[column] == sa.bindparam("key", type_=sa.Text),
        fe.c.final_entity.is_not(None),
        predicate_clause(_from_key(predicate_json), fe.c.entity_id),
    )


async def entity_facets(
    connection: AsyncConnection, keys: Sequence[str], predicate: Predicate | None
) -> list[tuple[str, str, int]]:
    """(key, original value, number of entities) for the facet keys, in one grouped query."""
    statement = _facets_statement(tuple(sorted(set(keys))), predicate_key(predicate))
    return [(key, value, int(count)) for key, value, count in await connection.execute(statement)]


@functools.lru_cache(maxsize=_STATEMENTS_KEPT)
def _facets_statement(keys: tuple[str, ...], predicate_json: bytes | None) -> sa.Select[Any]:
    statement = sa.select(search.c.key, search.c.original_value, sa.func.count()).where(
        search.c.key.in_(keys), search.c.original_value.is_not(None)
    )
    if predicate_json is not None:
        matching = _matching(_from_key(predicate_json), None)
        ids = sa.select(matching.entity_id).select_from(matching.source).where(*matching.conditions)
        statement = statement.where(search.c.entity_id.in_(ids))
    return statement.group_by(search.c.key, search.c.original_value).order_by(
        search.c.key, search.c.original_value
    )
