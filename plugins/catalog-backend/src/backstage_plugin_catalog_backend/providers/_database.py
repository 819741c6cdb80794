"""Entity providers' writes: their mutations, each in one transaction holding the provider's
lock, and refreshes by key (Backstage's `ProviderDatabase` and provider connections)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from backstage_backend_plugin_api import DatabaseService, EnginePurpose, LoggerService
from backstage_common.catalog_model import normalize_entity_ref_key
from backstage_common.errors import InputError
from backstage_plugin_catalog_node import (
    DeferredEntity,
    DeltaMutation,
    EntityProvider,
    EntityProviderMutation,
    RemovedEntityRef,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from backstage_plugin_catalog_backend._tables import (
    refresh_keys,
    refresh_state,
    refresh_state_references,
)
from backstage_plugin_catalog_backend.processing import entity_ref
from backstage_plugin_catalog_backend.processing._deadlocks import retry_on_deadlock
from backstage_plugin_catalog_backend.processing._store import (
    Conflict,
    Source,
    UnprocessedItem,
    chunks,
    enqueue_stitch,
    lock_source,
    prune,
    upsert_unprocessed,
)

__all__ = ["ProviderDatabase", "ProviderTransaction", "connect_providers"]

T = TypeVar("T")
_CHECKED_PER_TURN = 1_000
"""Entities of a provider's mutation checked between two turns of the event loop."""


def _check_envelope(entity: Any) -> None:
    metadata = entity.get("metadata") if isinstance(entity, dict) else None
    if (
        not isinstance(metadata, dict)
        or not isinstance(entity.get("apiVersion"), str)
        or not isinstance(entity.get("kind"), str)
        or not isinstance(metadata.get("name"), str)
    ):
        raise InputError(
            "Malformed entity envelope, apiVersion, kind and metadata.name must be strings"
        )


async def _checked_items(mutation: EntityProviderMutation) -> dict[str, UnprocessedItem]:
    added = mutation.entities if not isinstance(mutation, DeltaMutation) else mutation.added
    items: dict[str, UnprocessedItem] = {}
    for index, deferred in enumerate(added, 1):
        _check_envelope(deferred.entity)
        ref = entity_ref(deferred.entity)
        items[ref] = UnprocessedItem(ref, deferred.entity, deferred.location_key)
        if index % _CHECKED_PER_TURN == 0:
            await asyncio.sleep(0)  # a mutation of many thousands must not hold the loop
    return items


def _removed_ref(item: DeferredEntity | RemovedEntityRef) -> str:
    if isinstance(item, RemovedEntityRef):
        return normalize_entity_ref_key(item.entity_ref)
    return entity_ref(item.entity)


class ProviderTransaction:
    """A provider's open transaction (see `ProviderDatabase.provider_transaction`)."""

    def __init__(self, connection: AsyncConnection, name: str) -> None:
        self.connection = connection
        self.name = name
        self.conflicts: list[Conflict] = []

    async def apply(self, mutation: EntityProviderMutation) -> None:
        await self.apply_checked(mutation, await _checked_items(mutation))

    async def apply_checked(
        self, mutation: EntityProviderMutation, items: dict[str, UnprocessedItem]
    ) -> None:
        connection, name = self.connection, self.name
        existing = await self._provider_refs()
        if isinstance(mutation, DeltaMutation):
            removed = {_removed_ref(item) for item in mutation.removed} - set(items)
        else:
            removed = existing - set(items)
        for batch in chunks(sorted(removed)):
            await connection.execute(
                sa.delete(refresh_state_references).where(
                    refresh_state_references.c.source_key == name,
                    refresh_state_references.c.target_entity_ref.in_(batch),
                )
            )
        accepted, conflicts = await upsert_unprocessed(
            connection, list(items.values()), Source(key=name)
        )
        new_refs = [ref for ref in accepted if ref not in existing]
        for batch in chunks(new_refs):
            await connection.execute(
                sa.insert(refresh_state_references),
                [{"source_key": name, "target_entity_ref": ref} for ref in batch],
            )
        await enqueue_stitch(connection, await prune(connection, removed))
        self.conflicts.extend(conflicts)

    async def _provider_refs(self) -> set[str]:
        return set(
            (
                await self.connection.execute(
                    sa.select(refresh_state_references.c.target_entity_ref).where(
                        refresh_state_references.c.source_key == self.name
                    )
                )
            ).scalars()
        )


class ProviderDatabase:
    """Providers' writes, in transactions of the database service from the pool of
    `purpose`. `changed` is called after each commit, so that the processing loop takes the
    change up at once rather than at its next poll."""

    def __init__(
        self,
        database: DatabaseService,
        purpose: EnginePurpose,
        logger: LoggerService,
        changed: Callable[[], None],
    ) -> None:
        self._database = database
        self._purpose: EnginePurpose = purpose
        self._logger = logger
        self._changed = changed

    def transaction(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A write transaction from this database's pool."""
        return self._database.transaction(purpose=self._purpose)

    async def apply_mutation(self, name: str, mutation: EntityProviderMutation) -> None:
        items = await _checked_items(mutation)

        async def apply(transaction: ProviderTransaction) -> None:
            await transaction.apply_checked(mutation, items)

        await self.provider_transaction(name, apply)

    async def provider_transaction(
        self, name: str, work: Callable[[ProviderTransaction], Awaitable[T]]
    ) -> T:
        """Run `work` in one transaction holding provider `name`'s lock, in which a
        provider changes its own tables and applies its mutations: all of it is written,
        or none of it (a registered location is never left without its entity, nor a
        deleted one with it). `work` runs again when Postgres broke a deadlock with it, so
        it must have no effect outside the database. Conflicts are logged and the loop
        woken once the transaction committed."""

        async def attempt() -> tuple[T, list[Conflict]]:
            async with self.transaction() as connection:
                await lock_source(connection, name)
                transaction = ProviderTransaction(connection, name)
                result = await work(transaction)
            return result, transaction.conflicts

        result, conflicts = await retry_on_deadlock(attempt)
        for conflict in conflicts:
            self._logger.warn(conflict.message)
        self._changed()
        return result

    async def refresh_keys(self, keys: Sequence[str]) -> None:
        """Process now every entity that registered one of `keys`."""

        async def schedule() -> None:
            async with self.transaction() as connection:
                for batch in chunks(list(keys)):
                    ids = sa.select(refresh_keys.c.entity_id).where(refresh_keys.c.key.in_(batch))
                    await connection.execute(
                        sa.update(refresh_state)
                        .where(refresh_state.c.entity_id.in_(ids))
                        .values(next_update_at=datetime.now(UTC))
                    )

        await retry_on_deadlock(schedule)
        self._changed()

    async def evict_uninstalled(self, installed: set[str]) -> None:
        """Remove what providers that are no longer installed emitted."""
        references = refresh_state_references.c
        async with self.transaction() as connection:
            rows = await connection.execute(
                sa.select(references.source_key, references.target_entity_ref).where(
                    references.source_key.is_not(None), references.source_key.not_in(installed)
                )
            )
            gone = {(key, ref) for key, ref in rows}
            if not gone:
                return
            for key in sorted({key for key, _ in gone}):
                self._logger.info(f"Removing the entities of the uninstalled provider {key}")
                await connection.execute(
                    sa.delete(refresh_state_references).where(references.source_key == key)
                )
            await enqueue_stitch(connection, await prune(connection, {ref for _, ref in gone}))


class _ProviderConnection:
    def __init__(self, database: ProviderDatabase, name: str) -> None:
        self._database = database
        self._name = name

    async def apply_mutation(self, mutation: EntityProviderMutation) -> None:
        await self._database.apply_mutation(self._name, mutation)

    async def refresh(self, keys: Sequence[str]) -> None:
        await self._database.refresh_keys(keys)


async def connect_providers(
    database: ProviderDatabase, providers: Sequence[EntityProvider], *, evict_uninstalled: bool
) -> None:
    """Connect each provider to `database`, after removing (with `evict_uninstalled`) the
    entities of providers no longer installed."""
    names = [provider.name for provider in providers]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(f"Duplicate entity provider names: {', '.join(duplicates)}")
    if evict_uninstalled:
        await database.evict_uninstalled(set(names))
    for provider in providers:
        await provider.connect(_ProviderConnection(database, provider.name))
