"""Writing processing results: a batch of processed entities in one transaction, with
set-based statements (children, references, relations and refresh keys of the whole batch
together), then one stitch request for everything that changed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_common.errors import ConflictError
from sqlalchemy.ext.asyncio import AsyncConnection

from backstage_plugin_catalog_backend._tables import (
    refresh_keys,
    refresh_state,
    refresh_state_references,
    relations,
)
from backstage_plugin_catalog_backend.processing._arrays import insert_rows, update_rows
from backstage_plugin_catalog_backend.processing._entities import serialize_error
from backstage_plugin_catalog_backend.processing._orchestrator import ProcessingOutcome
from backstage_plugin_catalog_backend.processing._store import (
    Source,
    UnprocessedItem,
    chunks,
    enqueue_stitch,
    upsert_unprocessed,
)

__all__ = ["ProcessedResult", "write_results"]

_encode = msgspec.json.Encoder()
Triple = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class ProcessedResult:
    entity_id: str
    entity_ref: str
    outcome: ProcessingOutcome
    digest: str


async def write_results(
    connection: AsyncConnection,
    results: Sequence[ProcessedResult],
    warn: Callable[[str], None],
) -> None:
    """Store the results; the caller owns the transaction."""
    results = await _still_stored(connection, results)
    failed = [result for result in results if not result.outcome.ok]
    done = [result for result in results if result.outcome.ok]
    stitch = {result.entity_ref for result in results}
    peers: set[str] = set()
    if failed:
        await _write_failed(connection, failed)
    if done:
        peers = await _write_processed(connection, done, warn)
    # the peers' own entities did not change, only their relations or whether anything
    # references them
    await enqueue_stitch(connection, stitch, later=peers)


async def _still_stored(
    connection: AsyncConnection, results: Sequence[ProcessedResult]
) -> list[ProcessedResult]:
    """The results whose entity is still stored, kept from deletion until the write
    commits: an entity deleted while it was processed (its location unregistered) has
    nothing left to write to, and writing its children would fail the whole batch."""
    present: set[str] = set()
    for batch in chunks(sorted(result.entity_id for result in results)):
        query = sa.select(refresh_state.c.entity_id).where(refresh_state.c.entity_id.in_(batch))
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(read=True, key_share=True)
        present.update((await connection.execute(query)).scalars())
    return [result for result in results if result.entity_id in present]


async def _write_failed(connection: AsyncConnection, failed: list[ProcessedResult]) -> None:
    rows = []
    for result in failed:
        processed = None
        if result.outcome.valid:
            # a valid entity whose sources failed shows, with its errors, even before its
            # first successful run; its children stay as they were
            result.outcome.entity["metadata"]["uid"] = result.entity_id
            processed = _encode.encode(result.outcome.entity).decode()
        rows.append(
            {
                "b_id": result.entity_id,
                "b_errors": _encode.encode(result.outcome.errors).decode(),
                "b_hash": result.digest,
                "b_processed": processed,
            }
        )
    state = refresh_state.c
    await connection.execute(
        sa.update(refresh_state)
        .where(state.entity_id == sa.bindparam("b_id"))
        .values(
            errors=sa.bindparam("b_errors"),
            result_hash=sa.bindparam("b_hash"),
            processed_entity=sa.func.coalesce(
                state.processed_entity, sa.bindparam("b_processed", type_=sa.Text)
            ),
        ),
        rows,
    )


async def _write_processed(
    connection: AsyncConnection, done: list[ProcessedResult], warn: Callable[[str], None]
) -> set[str]:
    children: dict[str, set[str]] = {}
    updates: list[dict[str, Any]] = []
    for result in done:
        outcome = result.outcome
        accepted: list[str] = []
        conflict_errors = [
            serialize_error(ConflictError(duplicate.message)) for duplicate in outcome.duplicates
        ]
        if outcome.children:
            items = [UnprocessedItem(c.ref, c.entity, c.location_key) for c in outcome.children]
            accepted, conflicts = await upsert_unprocessed(
                connection, items, Source(entity_ref=result.entity_ref)
            )
            for conflict in conflicts:
                warn(conflict.message)
                conflict_errors.append(serialize_error(ConflictError(conflict.message)))
        children[result.entity_ref] = set(accepted)
        errors = [*outcome.errors, *conflict_errors]
        outcome.entity["metadata"]["uid"] = result.entity_id
        updates.append(
            {
                "entity_id": result.entity_id,
                "processed_entity": _encode.encode(outcome.entity).decode(),
                "errors": _encode.encode(errors).decode() if errors else "",
                # a conflict may resolve without the result changing: keep retrying it
                "result_hash": None if conflict_errors else result.digest,
            }
        )
    await update_rows(connection, refresh_state, "entity_id", updates)
    removed = await _replace_children(connection, children)
    wanted_relations = {
        result.entity_id: {
            (r.source.lower(), r.type, r.target.lower()) for r in result.outcome.relations
        }
        for result in done
    }
    peers = await _replace_relations(connection, wanted_relations)
    keys = {result.entity_id: set(result.outcome.refresh_keys) for result in done}
    await _replace_refresh_keys(connection, keys)
    return removed | peers


async def _replace_children(connection: AsyncConnection, wanted: dict[str, set[str]]) -> set[str]:
    """Make each parent's references exactly `wanted`; returns the children dropped."""
    references = refresh_state_references.c
    old: dict[str, set[str]] = defaultdict(set)
    for batch in chunks(sorted(wanted)):
        rows = await connection.execute(
            sa.select(references.source_entity_ref, references.target_entity_ref).where(
                references.source_entity_ref.in_(batch)
            )
        )
        for parent, child in rows:
            old[parent].add(child)
    gone = [
        {"b_parent": parent, "b_child": child}
        for parent, targets in wanted.items()
        for child in sorted(old[parent] - targets)
    ]
    new = [
        {"source_entity_ref": parent, "target_entity_ref": child}
        for parent, targets in wanted.items()
        for child in sorted(targets - old[parent])
    ]
    if gone:
        await connection.execute(
            sa.delete(refresh_state_references).where(
                references.source_entity_ref == sa.bindparam("b_parent"),
                references.target_entity_ref == sa.bindparam("b_child"),
            ),
            gone,
        )
    await insert_rows(connection, refresh_state_references, new)
    return {row["b_child"] for row in gone}


async def _replace_relations(
    connection: AsyncConnection, wanted: dict[str, set[Triple]]
) -> set[str]:
    """Make each entity's relation rows exactly `wanted`; returns the sources of the rows
    added or removed (their final entities change)."""
    old: dict[str, set[Triple]] = defaultdict(set)
    for batch in chunks(sorted(wanted)):
        rows = await connection.execute(
            sa.select(
                relations.c.originating_entity_id,
                relations.c.source_entity_ref,
                relations.c.type,
                relations.c.target_entity_ref,
            ).where(relations.c.originating_entity_id.in_(batch))
        )
        for entity_id, source, kind, target in rows:
            old[entity_id].add((source, kind, target))
    changed = sorted(entity_id for entity_id, rows in wanted.items() if rows != old[entity_id])
    peers: set[str] = set()
    for entity_id in changed:
        peers.update(source for source, _, _ in old[entity_id] ^ wanted[entity_id])
    for batch in chunks(changed):
        await connection.execute(
            sa.delete(relations).where(relations.c.originating_entity_id.in_(batch))
        )
    rows_to_add = [
        {
            "originating_entity_id": entity_id,
            "source_entity_ref": source,
            "type": kind,
            "target_entity_ref": target,
        }
        for entity_id in changed
        for source, kind, target in sorted(wanted[entity_id])
    ]
    await insert_rows(connection, relations, rows_to_add)
    return peers


async def _replace_refresh_keys(connection: AsyncConnection, wanted: dict[str, set[str]]) -> None:
    old: dict[str, set[str]] = defaultdict(set)
    for batch in chunks(sorted(wanted)):
        for entity_id, key in await connection.execute(
            sa.select(refresh_keys.c.entity_id, refresh_keys.c.key).where(
                refresh_keys.c.entity_id.in_(batch)
            )
        ):
            old[entity_id].add(key)
    changed = sorted(entity_id for entity_id, keys in wanted.items() if keys != old[entity_id])
    for ids in chunks(changed):
        await connection.execute(sa.delete(refresh_keys).where(refresh_keys.c.entity_id.in_(ids)))
    new_rows = [
        {"entity_id": entity_id, "key": key}
        for entity_id in changed
        for key in sorted(wanted[entity_id])
    ]
    await insert_rows(connection, refresh_keys, new_rows)
