"""`EntitiesCatalog`: reading and deleting entities, over the catalog's storage (Backstage's
`EntitiesCatalog`). Reads run on the request pool without a transaction; the deletion in a
transaction of the database service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from backstage_backend_plugin_api import DatabaseService
from backstage_common.errors import NotFoundError
from backstage_plugin_catalog_common import Predicate
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backstage_plugin_catalog_backend._tables import (
    final_entities,
    refresh_state,
    refresh_state_references,
    relations,
)
from backstage_plugin_catalog_backend.api._cursors import SortValues
from backstage_plugin_catalog_backend.api._entity_texts import EntityTexts
from backstage_plugin_catalog_backend.api._facet_counts import FacetCounts, FacetRows
from backstage_plugin_catalog_backend.api._ordering import OrderField
from backstage_plugin_catalog_backend.api._queries import (
    EntitySelect,
    FullTextFilter,
    count_entities,
    entities_by_refs,
    select_entities,
)
from backstage_plugin_catalog_backend.processing._deadlocks import retry_on_deadlock
from backstage_plugin_catalog_backend.service._listing import Listing, ListingPage, ListingPart
from backstage_plugin_catalog_backend.stitching import stitch_entities

__all__ = ["CHILD_WAS_DELETED", "EntitiesCatalog", "EntityPage"]

CHILD_WAS_DELETED = "child-was-deleted"


async def _final_text(connection: AsyncConnection, condition: sa.ColumnElement[bool]) -> str | None:
    statement = sa.select(final_entities.c.final_entity).where(
        condition, final_entities.c.final_entity.is_not(None)
    )
    text: str | None = (await connection.execute(statement)).scalar_one_or_none()
    return text


async def _ancestry(connection: AsyncConnection, root_ref: str) -> list[tuple[str, str, list[str]]]:
    """(ref, entity text, parent refs) of the root and every entity above it, level by level."""
    root = await _final_text(connection, final_entities.c.entity_ref == root_ref)
    if root is None:
        raise NotFoundError(f"No such entity {root_ref}")
    texts = {root_ref: root}
    order = [root_ref]
    parents: dict[str, list[str]] = {}
    frontier = [root_ref]
    while frontier:
        statement = (
            sa.select(
                refresh_state_references.c.target_entity_ref,
                final_entities.c.entity_ref,
                final_entities.c.final_entity,
            )
            .join(
                final_entities,
                final_entities.c.entity_ref == refresh_state_references.c.source_entity_ref,
            )
            .where(
                refresh_state_references.c.target_entity_ref.in_(frontier),
                final_entities.c.final_entity.is_not(None),
            )
            .order_by(final_entities.c.entity_ref)
        )
        next_frontier: list[str] = []
        for target, parent, text in await connection.execute(statement):
            parents.setdefault(target, []).append(parent)
            if parent not in texts:
                texts[parent] = text
                order.append(parent)
                next_frontier.append(parent)
        frontier = next_frontier
    return [(ref, texts[ref], parents.get(ref, [])) for ref in order]


async def _delete_entity(connection: AsyncConnection, uid: str) -> None:
    """Delete the entity's refresh state (cascading to everything derived from it), make its
    parents reprocess and re-stitch the entities its relations pointed at."""
    ref = (
        await connection.execute(
            sa.select(refresh_state.c.entity_ref).where(refresh_state.c.entity_id == uid)
        )
    ).scalar_one_or_none()
    if ref is None:
        return
    parents = sa.select(refresh_state_references.c.source_entity_ref).where(
        refresh_state_references.c.target_entity_ref == ref,
        refresh_state_references.c.source_entity_ref.is_not(None),
    )
    await connection.execute(
        sa.update(refresh_state)
        .where(refresh_state.c.entity_ref.in_(parents))
        .values(result_hash=CHILD_WAS_DELETED, next_update_at=datetime.now(UTC))
    )
    peers = sa.union(
        sa.select(relations.c.source_entity_ref.label("ref")).where(
            relations.c.originating_entity_id == uid
        ),
        sa.select(relations.c.target_entity_ref.label("ref")).where(
            relations.c.originating_entity_id == uid
        ),
    )
    peer_refs = {peer for peer in (await connection.execute(peers)).scalars() if peer != ref}
    await connection.execute(sa.delete(refresh_state).where(refresh_state.c.entity_id == uid))
    if peer_refs:
        await stitch_entities(connection, peer_refs)


@dataclass(frozen=True, slots=True)
class EntityPage:
    """Rows of a keyset page (each with `final_entity` and its sort values), in the order
    walked, and the total (None when not counted)."""

    rows: list[Any]
    total: int | None
    selection: EntitySelect
    """The query, for the sort values of a row (`selection.sort_values(row)`)."""


class EntitiesCatalog:
    """Entities by uid, ref and refs, an entity's ancestry, facet counts, and deletion.

    `reads` is the request pool's engine without transactions (autocommit): no BEGIN and
    ROLLBACK around every read, two round trips fewer on Postgres.
    """

    def __init__(self, database: DatabaseService, engine: AsyncEngine, reads: AsyncEngine) -> None:
        self._database = database
        self.reads = reads
        self._texts = EntityTexts(engine, reads)
        self._facets = FacetCounts(reads)

    async def by_uid(self, uid: str) -> str | None:
        """The entity's JSON, or None."""
        return await self._texts.by_uid(uid)

    async def by_ref(self, ref: str) -> str | None:
        """The entity's JSON by its lowercased ref, or None."""
        return await self._texts.by_ref(ref)

    async def by_refs(self, refs: Sequence[str], predicate: Predicate | None) -> dict[str, str]:
        """The JSON of those of `refs` that exist (and match `predicate`), by lowercased ref."""
        if predicate is None:
            return await self._texts.by_refs(refs)
        async with self.reads.connect() as connection:
            return await entities_by_refs(connection, refs, predicate)

    async def query(
        self,
        order_fields: Sequence[OrderField],
        *,
        predicate: Predicate | None,
        full_text: FullTextFilter | None,
        after: Sequence[str | None] | None,
        backwards: bool,
        limit: int,
        offset: int | None,
        count: bool,
    ) -> EntityPage:
        """Up to `limit` entities matching `predicate` and `full_text` that have a value for
        the first order field, after (or, `backwards`, before) the sort values `after`, and
        with `count` how many match in all."""
        selection = select_entities(
            order_fields, predicate=predicate, full_text=full_text, require_first=True
        )
        rows: list[Any] = []
        total = None
        async with self.reads.connect() as connection:
            if limit > 0:
                rows = await selection.rows(
                    connection, after, backwards=backwards, limit=limit, offset=offset
                )
            if count:
                total = await count_entities(
                    connection,
                    predicate=predicate,
                    full_text=full_text,
                    required_key=order_fields[0].key if order_fields else None,
                )
        return EntityPage(rows, total, selection)

    async def list_page(
        self, listing: Listing, after: SortValues | None, limit: int
    ) -> ListingPage:
        """Up to `limit` entities of `listing` after the sort values `after`."""
        async with self.reads.connect() as connection:
            return await listing.page(connection, after, limit)

    async def list_paged(
        self,
        listing: Listing,
        keyset: SortValues | None,
        limit: int | None,
        offset: int | None,
    ) -> ListingPage:
        """One page and the row after it: by keyset when the cursor has one, else by
        OFFSET."""
        wanted = None if limit is None else limit + 1
        seek = keyset is not None and len(keyset) == len(listing.order) + 1
        async with self.reads.connect() as connection:
            if seek and wanted is not None:
                return await listing.page(connection, keyset, wanted)
            entities = select_entities(
                listing.order, predicate=listing.predicate, tie_breaker=listing.tie_breaker
            )
            rows = await entities.rows(connection, limit=wanted, offset=offset)
        return ListingPage([ListingPart(entities, rows)])

    async def ancestry(self, ref: str) -> list[tuple[str, str, list[str]]]:
        """(ref, JSON, parent refs) of the entity and every entity above it, level by level.
        Raises `NotFoundError` when there is no such entity."""
        async with self.reads.connect() as connection:
            return await _ancestry(connection, ref)

    async def facets(self, facets: Sequence[str], predicate: Predicate | None) -> FacetRows:
        """(lowercased facet, value, count) of the entities matching `predicate`."""
        return await self._facets.rows(facets, predicate)

    async def delete(self, uid: str) -> None:
        """Delete the entity (nothing when there is none); its parents reprocess."""

        async def delete() -> None:
            async with self._database.transaction() as connection:
                await _delete_entity(connection, uid)

        await retry_on_deadlock(delete)
