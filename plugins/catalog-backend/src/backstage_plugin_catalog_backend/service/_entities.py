"""`EntitiesCatalog`: reading and deleting entities, over the catalog's storage, as the
caller's permissions allow (Backstage's `EntitiesCatalog` and `AuthorizedEntitiesCatalog`
in one: the permission is part of each read's SQL). Reads run on the request pool without a
transaction; the deletion in a transaction of the database service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from backstage_backend_plugin_api import BackstageCredentials, DatabaseService
from backstage_common.errors import NotFoundError
from backstage_plugin_catalog_common import (
    Predicate,
    catalog_entity_delete_permission,
    catalog_entity_read_permission,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from backstage_plugin_catalog_backend._tables import (
    final_entities,
    refresh_state,
    refresh_state_references,
    relations,
)
from backstage_plugin_catalog_backend.api._cursors import SortValues
from backstage_plugin_catalog_backend.api._entity_cache import EntityCache
from backstage_plugin_catalog_backend.api._entity_texts import EntityTexts
from backstage_plugin_catalog_backend.api._facet_counts import FacetCounts, FacetRows
from backstage_plugin_catalog_backend.api._ordering import OrderField
from backstage_plugin_catalog_backend.api._queries import (
    EntitySelect,
    FullTextFilter,
    count_entities,
    entities_by_refs,
    entity_text_where,
    select_entities,
)
from backstage_plugin_catalog_backend.api._response_cache import (
    CachedResponses,
    KeptResponse,
    Miss,
    ResponseCache,
)
from backstage_plugin_catalog_backend.permissions import (
    CatalogPermissions,
    EntityAccess,
    not_allowed,
)
from backstage_plugin_catalog_backend.processing._deadlocks import retry_on_deadlock
from backstage_plugin_catalog_backend.service._listing import Listing, ListingPage, ListingPart
from backstage_plugin_catalog_backend.stitching import stitch_entities

__all__ = ["CHILD_WAS_DELETED", "EntitiesCatalog", "EntityPage"]

CHILD_WAS_DELETED = "child-was-deleted"
Credentials = BackstageCredentials[Any]


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


def _with_ancestors(refs: set[str], items: Sequence[tuple[str, str, list[str]]]) -> set[str]:
    """`refs` and every entity above them in an ancestry."""
    parents = {ref: item_parents for ref, _, item_parents in items}
    found = set(refs)
    pending = list(refs)
    while pending:
        for parent in parents.get(pending.pop(), ()):
            if parent not in found:
                found.add(parent)
                pending.append(parent)
    return found


@dataclass(frozen=True, slots=True)
class EntityPage:
    """Rows of a keyset page (each with `final_entity` and its sort values), in the order
    walked, and the total (None when not counted)."""

    rows: list[Any]
    total: int | None
    selection: EntitySelect
    """The query, for the sort values of a row (`selection.sort_values(row)`)."""


class EntitiesCatalog:
    """Entities by uid, ref and refs, an entity's ancestry, facet counts, and deletion, for
    the caller whose credentials are given.

    Every read asks for `catalog.entity.read` without a resource: denied, it reads nothing;
    conditional, the conditions' predicate is ANDed into the read's SQL (never a filter over
    rows read), so pages, counts and facets are exact. The caller's own filter is kept
    apart, so a cursor carries it alone and the permission is applied again on each page.

    `reads` is the request pool's engine without transactions (autocommit): no BEGIN and
    ROLLBACK around every read, two round trips fewer on Postgres.

    `entity_cache` serves the reads by uid, ref and refs of callers who may read every
    entity from memory where that is exact (Postgres; see `EntityCache`); `response_cache`
    their entity lists and by-query pages (see `ResponseCache`).
    """

    def __init__(
        self,
        database: DatabaseService,
        engine: AsyncEngine,
        reads: AsyncEngine,
        permissions: CatalogPermissions,
        entity_cache: EntityCache | None = None,
        response_cache: ResponseCache | None = None,
    ) -> None:
        self._database = database
        self.reads = reads
        self._permissions = permissions
        self._texts = EntityTexts(engine, reads, entity_cache)
        postgres = engine.dialect.name == "postgresql"
        self.responses = (
            # its reads go the entity reads' direct way to the asyncpg connection
            CachedResponses(self._texts.on_driver, response_cache, self._texts.counters)
            if response_cache is not None and postgres
            else None
        )
        self._facets = FacetCounts(reads)

    async def read_access(self, credentials: Credentials) -> EntityAccess:
        """Which entities the caller may read."""
        return await self._permissions.entity_access(catalog_entity_read_permission, credentials)

    async def _text_where(self, column: str, key: str, access: EntityAccess) -> str | None:
        if access.denied:
            return None
        if access.predicate is None:
            if column == "entity_id":
                return await self._texts.by_uid(key)
            return await self._texts.by_ref(key)
        async with self.reads.connect() as connection:
            return await entity_text_where(connection, column, key, access.predicate)

    async def kept_response(self, key: str, credentials: Credentials) -> KeptResponse | Miss | None:
        """The response to the request `key` (its route and raw query string) from the
        response cache, when it is exact for this request; else a `Miss`, to keep the
        response once made; None when the caller may not use the cache (it is used only
        by callers who may read every entity)."""
        if self.responses is None or not self._texts.direct:
            return None
        access = await self.read_access(credentials)
        if access.denied or access.predicate is not None:
            return None
        return await self.responses.lookup(key)

    async def by_uid(self, uid: str, credentials: Credentials) -> str | None:
        """The entity's JSON, or None (also when the caller may not read it)."""
        return await self._text_where("entity_id", uid, await self.read_access(credentials))

    async def by_ref(self, ref: str, credentials: Credentials) -> str | None:
        """The entity's JSON by its lowercased ref, or None (also when the caller may not
        read it)."""
        return await self._text_where("entity_ref", ref, await self.read_access(credentials))

    async def by_refs(
        self, refs: Sequence[str], predicate: Predicate | None, credentials: Credentials
    ) -> dict[str, str]:
        """The JSON of those of `refs` that exist, match `predicate` and the caller may
        read, by lowercased ref."""
        access = await self.read_access(credentials)
        if access.denied:
            return {}
        return await self.unrestricted_by_refs(refs, access.restrict(predicate))

    async def unrestricted_by_refs(
        self, refs: Sequence[str], predicate: Predicate | None = None
    ) -> dict[str, str]:
        """`by_refs` without any permission: for the permission framework itself, which
        decides on the entities it loads."""
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
        credentials: Credentials,
    ) -> EntityPage:
        """Up to `limit` entities matching `predicate` and `full_text` that have a value for
        the first order field, after (or, `backwards`, before) the sort values `after`, and
        with `count` how many match in all; only entities the caller may read."""
        access = await self.read_access(credentials)
        predicate = access.restrict(predicate)
        selection = select_entities(
            order_fields, predicate=predicate, full_text=full_text, require_first=True
        )
        if access.denied:
            return EntityPage([], 0 if count else None, selection)
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

    async def listing(
        self,
        order: list[OrderField],
        predicate: Predicate | None,
        tie_breaker: str,
        credentials: Credentials,
    ) -> Listing:
        """The entities of a `GET /entities` request that the caller may read, to be read a
        page at a time (the decision is taken once for all its pages)."""
        access = await self.read_access(credentials)
        return Listing(order, access.restrict(predicate), tie_breaker, denied=access.denied)

    async def list_page(
        self, listing: Listing, after: SortValues | None, limit: int
    ) -> ListingPage:
        """Up to `limit` entities of `listing` after the sort values `after`."""
        if listing.denied:
            return ListingPage([])
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
        if listing.denied:
            return ListingPage([])
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

    async def ancestry(
        self, ref: str, credentials: Credentials
    ) -> list[tuple[str, str, list[str]]]:
        """(ref, JSON, parent refs) of the entity and every entity above it, level by level.
        Raises `NotFoundError` when there is no such entity, `NotAllowedError` when the
        caller may not read it; ancestors the caller may not read are left out, with
        everything above them."""
        access = await self.read_access(credentials)
        if access.denied:
            raise not_allowed(catalog_entity_read_permission)
        async with self.reads.connect() as connection:
            try:
                items = await _ancestry(connection, ref)
            except NotFoundError:
                if access.predicate is None:
                    raise
                # a missing entity is a denied one to a conditional decision (Backstage)
                raise not_allowed(catalog_entity_read_permission) from None
            if access.predicate is None:
                return items
            readable = await entities_by_refs(
                connection, [item[0] for item in items], access.predicate
            )
        if ref not in readable:
            raise not_allowed(catalog_entity_read_permission)
        hidden = _with_ancestors({item[0] for item in items} - readable.keys(), items)
        return [item for item in items if item[0] not in hidden]

    async def facets(
        self, facets: Sequence[str], predicate: Predicate | None, credentials: Credentials
    ) -> FacetRows:
        """(lowercased facet, value, count) of the entities matching `predicate` that the
        caller may read."""
        access = await self.read_access(credentials)
        if access.denied:
            return []
        return await self._facets.rows(facets, access.restrict(predicate))

    async def delete(self, uid: str, credentials: Credentials) -> None:
        """Delete the entity (nothing when there is none); its parents reprocess. Raises
        `NotAllowedError` unless the caller may delete it (under a conditional decision,
        also when there is no such entity, as in Backstage)."""
        permission = catalog_entity_delete_permission
        access = await self._permissions.entity_access(permission, credentials)
        if access.denied:
            raise not_allowed(permission)
        if access.predicate is not None:
            async with self.reads.connect() as connection:
                found = await entity_text_where(connection, "entity_id", uid, access.predicate)
            if found is None:
                raise not_allowed(permission)

        async def delete() -> None:
            async with self._database.transaction() as connection:
                await _delete_entity(connection, uid)

        await retry_on_deadlock(delete)
