"""Reading the entities of `GET /entities` a page at a time, by keyset."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backstage_plugin_catalog_common import Predicate
from sqlalchemy.ext.asyncio import AsyncConnection

from backstage_plugin_catalog_backend.api._cursors import SortValues
from backstage_plugin_catalog_backend.api._ordering import OrderField
from backstage_plugin_catalog_backend.api._queries import EntitySelect, select_entities

__all__ = ["Listing", "ListingPage", "ListingPart"]


@dataclass(frozen=True)
class ListingPart:
    """Rows read from one select; `lacking` when they lack a value for the first order
    field (their sort values then start with None)."""

    entities: EntitySelect
    rows: Sequence[Any]
    lacking: bool = False


class ListingPage:
    """The entities of a page in order: their stored texts, and the sort values of any one of
    them (to continue after it), worked out only for the row a cursor needs."""

    def __init__(self, parts: Sequence[ListingPart]) -> None:
        self._parts = parts
        self.texts: list[str] = [row.final_entity for part in parts for row in part.rows]

    def sort_values(self, index: int) -> SortValues:
        for part in self._parts:
            if index < len(part.rows):
                values = part.entities.sort_values(part.rows[index])
                return [None, *values] if part.lacking else values
            index -= len(part.rows)
        raise IndexError(index)


@dataclass(frozen=True)
class Listing:
    """The entities of a GET /entities request, read a page at a time by keyset.

    With an order, entities having a value for the first field are read first, walking
    that field's index; those lacking it follow, ordered by the other fields. Each part
    is a seek, so a page costs the same wherever it starts.
    """

    order: list[OrderField]
    predicate: Predicate | None
    """What the entities match: the caller's filter and the read permission's."""
    tie_breaker: str
    denied: bool = False
    """The caller may read no entity: every page is empty."""

    async def page(
        self, connection: AsyncConnection, after: SortValues | None, limit: int
    ) -> ListingPage:
        if not self.order:
            entities = select_entities([], predicate=self.predicate, tie_breaker=self.tie_breaker)
            rows = await entities.rows(connection, after, limit=limit)
            return ListingPage([ListingPart(entities, rows)])
        parts: list[ListingPart] = []
        if after is None or after[0] is not None:
            having = select_entities(self.order, predicate=self.predicate, require_first=True)
            rows = await having.rows(connection, after, limit=limit)
            if len(rows) == limit:
                return ListingPage([ListingPart(having, rows)])
            parts.append(ListingPart(having, rows))
            after = None
        lacking = select_entities(
            self.order[1:],
            predicate=self.predicate,
            lacking_key=self.order[0].key,
            tie_descending=self.order[0].order == "desc",
        )
        wanted = limit - sum(len(part.rows) for part in parts)
        rows = await lacking.rows(connection, after[1:] if after else None, limit=wanted)
        parts.append(ListingPart(lacking, rows, lacking=True))
        return ListingPage(parts)
