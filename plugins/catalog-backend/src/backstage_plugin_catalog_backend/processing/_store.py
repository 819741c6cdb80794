"""Set-based writes shared by entity providers and the processing loop: upserting
unprocessed entities (with location-key conflict rules), pruning what nothing references
any more, and queueing stitches."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from backstage_common.catalog_model import ANNOTATION_ORIGIN_LOCATION
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from backstage_plugin_catalog_backend._tables import (
    final_entities,
    refresh_keys,
    refresh_state,
    refresh_state_references,
    relations,
    search,
    stitch_queue,
)
from backstage_plugin_catalog_backend.processing._arrays import insert_rows, update_rows
from backstage_plugin_catalog_backend.processing._entities import stable_hash

__all__ = [
    "CHUNK",
    "PEER_STITCH_DELAY",
    "Conflict",
    "Source",
    "UnprocessedItem",
    "chunks",
    "enqueue_stitch",
    "lock_source",
    "prune",
    "upsert_unprocessed",
]

CHUNK = 500
T = TypeVar("T")
_encode = msgspec.json.Encoder()
_decode = msgspec.json.Decoder()


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True, slots=True)
class Source:
    """Who emits entities: a provider (`key`) or a parent entity (`entity_ref`)."""

    key: str | None = None
    entity_ref: str | None = None


@dataclass(frozen=True, slots=True)
class UnprocessedItem:
    ref: str
    entity: dict[str, Any]
    location_key: str | None


@dataclass(frozen=True, slots=True)
class Conflict:
    ref: str
    existing_key: str
    new_key: str | None

    @property
    def message(self) -> str:
        return (
            f"Detected conflicting entityRef {self.ref} already referenced by "
            f"{self.existing_key} and now also {self.new_key}"
        )


async def lock_source(connection: AsyncConnection, name: str) -> None:
    """Serialise mutations of one provider across replicas (Postgres; SQLite has one writer)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"catalog:{name}"}
        )


PEER_STITCH_DELAY = 2.0
"""Seconds a stitch asked for an entity's relation peers waits (`enqueue_stitch`'s
`later`): during an ingestion a group or a system gains relations from every batch that
writes one of its members, and writes within that time share one stitch of it."""

_STITCH_UPSERT = (
    "ON CONFLICT (entity_ref) DO UPDATE SET stitch_ticket = excluded.stitch_ticket, "
    "next_stitch_at = LEAST(stitch_queue.next_stitch_at, excluded.next_stitch_at)"
)


async def enqueue_stitch(
    connection: AsyncConnection, refs: Collection[str], later: Collection[str] = ()
) -> None:
    """Ask for a stitch of `refs` (due now) and of `later` (due in `PEER_STITCH_DELAY`
    seconds), a new ticket each. A stitch already queued keeps its due time when that is
    sooner (a claimed stitch's lease is cut short: the new ticket has it stitched again)."""
    if not refs and not later:
        return
    ticket = uuid.uuid4().hex
    now = datetime.now(UTC)
    due_later = now + timedelta(seconds=PEER_STITCH_DELAY)
    due = {ref: due_later for ref in later}
    due.update((ref, now) for ref in refs)
    # a stable order keeps concurrent writers from locking rows in opposite orders
    rows = [
        {"entity_ref": ref, "stitch_ticket": ticket, "next_stitch_at": due[ref]}
        for ref in sorted(due)
    ]
    fallback = sqlite.insert(stitch_queue)
    fallback = fallback.on_conflict_do_update(
        index_elements=["entity_ref"],
        set_={
            "stitch_ticket": fallback.excluded.stitch_ticket,
            "next_stitch_at": sa.func.min(
                stitch_queue.c.next_stitch_at, fallback.excluded.next_stitch_at
            ),
        },
    )
    await insert_rows(connection, stitch_queue, rows, on_conflict=_STITCH_UPSERT, fallback=fallback)


def _origin(text: str | None) -> str | None:
    if not text:
        return None
    entity = _decode.decode(text)
    annotations = (entity.get("metadata") or {}).get("annotations") or {}
    origin = annotations.get(ANNOTATION_ORIGIN_LOCATION)
    return origin if isinstance(origin, str) else None


async def _may_take_over(
    connection: AsyncConnection,
    candidates: dict[str, UnprocessedItem],
    source: Source,
) -> set[str]:
    """Refs whose owner may change: nothing but `source` references them any more (the old
    owner stopped emitting them), or they come from the same origin location (a file moved
    within the registered location)."""
    if not candidates:
        return set()
    refs = list(candidates)
    others: set[str] = set()
    texts: dict[str, str] = {}
    for batch in chunks(refs):
        rows = await connection.execute(
            sa.select(
                refresh_state_references.c.target_entity_ref,
                refresh_state_references.c.source_key,
                refresh_state_references.c.source_entity_ref,
            ).where(refresh_state_references.c.target_entity_ref.in_(batch))
        )
        for target, key, parent in rows:
            if (key, parent) != (source.key, source.entity_ref):
                others.add(target)
        for ref, text in await connection.execute(
            sa.select(refresh_state.c.entity_ref, refresh_state.c.unprocessed_entity).where(
                refresh_state.c.entity_ref.in_(batch)
            )
        ):
            texts[ref] = text
    allowed = set()
    for ref, item in candidates.items():
        annotations = item.entity.get("metadata", {}).get("annotations") or {}
        same_origin = _origin(texts.get(ref)) == annotations.get(ANNOTATION_ORIGIN_LOCATION)
        if ref not in others or same_origin:
            allowed.add(ref)
    return allowed


async def upsert_unprocessed(
    connection: AsyncConnection, items: Sequence[UnprocessedItem], source: Source
) -> tuple[list[str], list[Conflict]]:
    """Insert new refs and update changed ones (due for processing now). A ref owned by
    another location key is left alone and reported as a conflict unless it may be taken
    over. Returns the refs written or already up to date, and the conflicts."""
    now = datetime.now(UTC)
    accepted: list[str] = []
    conflicts: list[Conflict] = []
    # a stable order keeps concurrent writers from locking rows in opposite orders
    for batch in chunks(sorted(items, key=lambda item: item.ref)):
        by_ref = {item.ref: item for item in batch}
        existing = {
            ref: (digest, key)
            for ref, digest, key in await connection.execute(
                sa.select(
                    refresh_state.c.entity_ref,
                    refresh_state.c.unprocessed_hash,
                    refresh_state.c.location_key,
                ).where(refresh_state.c.entity_ref.in_(list(by_ref)))
            )
        }
        contested = {
            ref: item
            for ref, item in by_ref.items()
            if ref in existing
            and existing[ref][1] is not None
            and existing[ref][1] != item.location_key
        }
        taken_over = await _may_take_over(connection, contested, source)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for ref, item in by_ref.items():
            text = _encode.encode(item.entity).decode()
            digest = stable_hash(item.entity)
            if ref not in existing:
                inserts.append(
                    {
                        "entity_id": str(uuid.uuid4()),
                        "entity_ref": ref,
                        "unprocessed_entity": text,
                        "unprocessed_hash": digest,
                        "errors": "",
                        "next_update_at": now,
                        "last_discovery_at": now,
                        "location_key": item.location_key,
                    }
                )
            elif ref in contested and ref not in taken_over:
                conflicts.append(Conflict(ref, existing[ref][1] or "", item.location_key))
                continue
            elif existing[ref] != (digest, item.location_key):
                updates.append(
                    {
                        "entity_ref": ref,
                        "unprocessed_entity": text,
                        "unprocessed_hash": digest,
                        "location_key": item.location_key,
                        "next_update_at": now,
                        "last_discovery_at": now,
                    }
                )
            accepted.append(ref)
        await insert_rows(
            connection,
            refresh_state,
            inserts,
            on_conflict="ON CONFLICT (entity_ref) DO NOTHING",
            fallback=sqlite.insert(refresh_state).on_conflict_do_nothing(
                index_elements=["entity_ref"]
            ),
        )
        await update_rows(connection, refresh_state, "entity_ref", updates)
    return accepted, conflicts


async def delete_entities(connection: AsyncConnection, refs: Collection[str]) -> set[str]:
    """Delete these refs and everything hanging off them; returns the refs of relation
    peers whose final entities must be stitched again."""
    peers: set[str] = set()
    for batch in chunks(sorted(refs)):
        ids = list(
            (
                await connection.execute(
                    sa.select(refresh_state.c.entity_id).where(
                        refresh_state.c.entity_ref.in_(batch)
                    )
                )
            ).scalars()
        )
        peers.update(
            (
                await connection.execute(
                    sa.select(relations.c.source_entity_ref)
                    .where(relations.c.originating_entity_id.in_(ids))
                    .distinct()
                )
            ).scalars()
        )
        peers.update(
            (
                await connection.execute(
                    sa.select(relations.c.source_entity_ref)
                    .where(relations.c.target_entity_ref.in_(batch))
                    .distinct()
                )
            ).scalars()
        )
        await connection.execute(sa.delete(search).where(search.c.entity_id.in_(ids)))
        await connection.execute(
            sa.delete(final_entities).where(final_entities.c.entity_id.in_(ids))
        )
        await connection.execute(
            sa.delete(relations).where(relations.c.originating_entity_id.in_(ids))
        )
        await connection.execute(sa.delete(refresh_keys).where(refresh_keys.c.entity_id.in_(ids)))
        await connection.execute(
            sa.delete(refresh_state_references).where(
                sa.or_(
                    refresh_state_references.c.source_entity_ref.in_(batch),
                    refresh_state_references.c.target_entity_ref.in_(batch),
                )
            )
        )
        await connection.execute(
            sa.delete(stitch_queue).where(stitch_queue.c.entity_ref.in_(batch))
        )
        await connection.execute(sa.delete(refresh_state).where(refresh_state.c.entity_id.in_(ids)))
    return peers - set(refs)


async def prune(connection: AsyncConnection, candidates: Collection[str]) -> set[str]:
    """Delete the candidates nothing references any more, then their children that become
    unreferenced, level by level. Returns the surviving refs to stitch again."""
    frontier = set(candidates)
    deleted: set[str] = set()
    restitch: set[str] = set()
    while frontier:
        referenced: set[str] = set()
        children: set[str] = set()
        for batch in chunks(sorted(frontier)):
            referenced.update(
                (
                    await connection.execute(
                        sa.select(refresh_state_references.c.target_entity_ref)
                        .where(refresh_state_references.c.target_entity_ref.in_(batch))
                        .distinct()
                    )
                ).scalars()
            )
        doomed = frontier - referenced
        if not doomed:
            break
        for batch in chunks(sorted(doomed)):
            children.update(
                (
                    await connection.execute(
                        sa.select(refresh_state_references.c.target_entity_ref).where(
                            refresh_state_references.c.source_entity_ref.in_(batch)
                        )
                    )
                ).scalars()
            )
        restitch |= await delete_entities(connection, doomed)
        deleted |= doomed
        frontier = children - deleted
    return restitch - deleted
