"""Stitching: turning processed entities, their relations and errors into final entities.

A final entity is the processed entity plus every relation it is the source of, its
processing errors as `status.items`, and the orphan annotation when nothing references it
any more. Its hash covers all of that; when the hash is unchanged nothing is written, so
re-stitching an unchanged entity costs one read. Work is done in batches: a few queries
for a whole set of refs, never one query per entity.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import SearchRow, search_rows
from sqlalchemy.ext.asyncio import AsyncConnection

from backstage_plugin_catalog_backend._tables import (
    final_entities,
    refresh_state,
    refresh_state_references,
    relations,
    search,
)

__all__ = ["BATCH_SIZE", "build_final_entity", "entity_hash", "stitch_entities"]

BATCH_SIZE = 500
_ROWS_PER_INSERT = 500
"""Search rows per INSERT: SQLAlchemy prepares every row's parameters in one go, holding up
the event loop for as long as that takes."""
_BUILT_PER_TURN = 50
"""Final entities built between two turns of the event loop."""
ORPHAN_ANNOTATION = "backstage.io/orphan"
PROCESSING_STATUS_TYPE = "backstage.io/catalog-processing"
REJECTED_URL = "https://backstage.io/annotation-rejected-for-security-reasons"
_URL_ANNOTATIONS = ("backstage.io/view-url", "backstage.io/edit-url")

_decode = msgspec.json.Decoder()
_encode = msgspec.json.Encoder()
_encode_sorted = msgspec.json.Encoder(order="sorted")


@dataclass(frozen=True, slots=True)
class _Stitched:
    entity_id: str
    entity_ref: str
    digest: str
    entity: dict[str, Any]
    search_rows: list[SearchRow]


def entity_hash(entity: Mapping[str, Any]) -> str:
    """sha1 over the key-sorted JSON of `entity`."""
    return hashlib.sha1(_encode_sorted.encode(entity), usedforsecurity=False).hexdigest()


def _status_items(errors_text: str | None) -> list[dict[str, Any]]:
    if not errors_text:
        return []
    items = []
    for error in _decode.decode(errors_text):
        name = error.get("name", "Error")
        items.append(
            {
                "type": PROCESSING_STATUS_TYPE,
                "level": "error",
                "message": f"{name}: {error.get('message', '')}",
                "error": error,
            }
        )
    return items


def _sanitize_urls(annotations: dict[str, Any]) -> None:
    for key in _URL_ANNOTATIONS:
        value = annotations.get(key)
        if isinstance(value, str) and value.strip().lower().startswith("javascript:"):
            annotations[key] = REJECTED_URL


def build_final_entity(
    processed: Mapping[str, Any],
    *,
    relation_rows: Iterable[tuple[str, str]],
    errors_text: str | None,
    orphan: bool,
) -> tuple[dict[str, Any], str]:
    """The final entity and its hash, from a processed entity and what surrounds it."""
    entity: dict[str, Any] = _decode.decode(_encode.encode(processed))
    metadata = entity.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    if orphan:
        annotations[ORPHAN_ANNOTATION] = "true"
    _sanitize_urls(annotations)
    if annotations or "annotations" in metadata:
        metadata["annotations"] = annotations
    entity["relations"] = [
        {"type": kind, "targetRef": target} for kind, target in sorted(set(relation_rows))
    ]
    status_items = _status_items(errors_text)
    if status_items:
        status = entity.setdefault("status", {})
        status["items"] = [*(status.get("items") or []), *status_items]
    given_etag = metadata.pop("etag", None)
    digest = entity_hash(entity)
    metadata["etag"] = given_etag or digest
    return entity, digest


async def _read_batch(
    connection: AsyncConnection, refs: Sequence[str]
) -> tuple[
    list[tuple[str, str, str | None, str]],
    dict[str, list[tuple[str, str]]],
    set[str],
    dict[str, str],
]:
    states = (
        await connection.execute(
            sa.select(
                refresh_state.c.entity_id,
                refresh_state.c.entity_ref,
                refresh_state.c.processed_entity,
                refresh_state.c.errors,
            ).where(refresh_state.c.entity_ref.in_(refs))
        )
    ).all()
    by_source: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for source, kind, target in await connection.execute(
        sa.select(
            relations.c.source_entity_ref, relations.c.type, relations.c.target_entity_ref
        ).where(relations.c.source_entity_ref.in_(refs))
    ):
        by_source[source].append((kind, target))
    referenced = set(
        (
            await connection.execute(
                sa.select(refresh_state_references.c.target_entity_ref)
                .where(refresh_state_references.c.target_entity_ref.in_(refs))
                .distinct()
            )
        ).scalars()
    )
    hashes = {
        entity_id: digest
        for entity_id, digest in await connection.execute(
            sa.select(final_entities.c.entity_id, final_entities.c.hash).where(
                final_entities.c.entity_ref.in_(refs)
            )
        )
    }
    return [(row[0], row[1], row[2], row[3]) for row in states], by_source, referenced, hashes


async def _write_final(
    connection: AsyncConnection, changed: list[_Stitched], stored: Collection[str]
) -> None:
    """Write the changed final entities; `stored` are the ids of those that had one."""
    if connection.dialect.name == "postgresql":
        await _write_final_postgres(connection, changed, stored)
        return
    ids = [item.entity_id for item in changed]
    now = datetime.now(UTC)
    await connection.execute(sa.delete(final_entities).where(final_entities.c.entity_id.in_(ids)))
    await connection.execute(
        sa.insert(final_entities),
        [
            {
                "entity_id": item.entity_id,
                "entity_ref": item.entity_ref,
                "hash": item.digest,
                "final_entity": _encode.encode(item.entity).decode(),
                "last_updated_at": now,
            }
            for item in changed
        ],
    )
    rows = [
        {"entity_id": item.entity_id, "key": key, "value": value, "original_value": original}
        for item in changed
        for key, value, original in item.search_rows
    ]
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        await connection.execute(sa.insert(search), rows[start : start + _ROWS_PER_INSERT])


# On Postgres each statement takes its rows as arrays (unnest), whatever their number: an
# executemany would run the statement once per row. An entity stitched again (a group
# gaining a member) keeps its row in `final_entities` (no cascade through its search rows)
# and only the search rows that changed are deleted or inserted.
_UPSERT_FINAL_UNNEST = sa.text(
    "INSERT INTO final_entities (entity_id, entity_ref, hash, final_entity, last_updated_at) "
    "SELECT u.entity_id, u.entity_ref, u.hash, u.final_entity, CAST(:now AS timestamptz) "
    "FROM unnest(CAST(:entity_ids AS text[]), CAST(:entity_refs AS text[]), "
    "CAST(:hashes AS text[]), CAST(:final_entities AS text[])) "
    "AS u(entity_id, entity_ref, hash, final_entity) "
    "ON CONFLICT (entity_id) DO UPDATE SET entity_ref = excluded.entity_ref, "
    "hash = excluded.hash, final_entity = excluded.final_entity, "
    "last_updated_at = excluded.last_updated_at"
)
_SEARCH_ROWS_OF = sa.text(
    "SELECT entity_id, key, value, original_value FROM search "
    "WHERE entity_id = ANY(CAST(:entity_ids AS text[]))"
)
_DELETE_SEARCH_UNNEST = sa.text(
    "DELETE FROM search AS s USING unnest(CAST(:entity_ids AS text[]), "
    "CAST(:keys AS text[]), CAST(:search_values AS text[]), "
    "CAST(:original_values AS text[])) AS d(entity_id, key, value, original_value) "
    "WHERE s.entity_id = d.entity_id AND s.key = d.key "
    "AND s.value IS NOT DISTINCT FROM d.value "
    "AND s.original_value IS NOT DISTINCT FROM d.original_value"
)
_INSERT_SEARCH_UNNEST = sa.text(
    "INSERT INTO search (entity_id, key, value, original_value) "
    "SELECT * FROM unnest(CAST(:entity_ids AS text[]), CAST(:keys AS text[]), "
    "CAST(:search_values AS text[]), CAST(:original_values AS text[]))"
)

_FullSearchRow = tuple[str, str, str | None, str | None]


def _search_columns(rows: Iterable[_FullSearchRow]) -> dict[str, list[Any]]:
    entity_ids: list[str] = []
    keys: list[str] = []
    values: list[str | None] = []
    originals: list[str | None] = []
    for entity_id, key, value, original in rows:
        entity_ids.append(entity_id)
        keys.append(key)
        values.append(value)
        originals.append(original)
    return {
        "entity_ids": entity_ids,
        "keys": keys,
        "search_values": values,
        "original_values": originals,
    }


async def _write_final_postgres(
    connection: AsyncConnection, changed: list[_Stitched], stored: Collection[str]
) -> None:
    ids = [item.entity_id for item in changed]
    existing: set[_FullSearchRow] = set()
    # an entity stitched for the first time (most of an ingestion) has no search rows
    had_rows = [entity_id for entity_id in ids if entity_id in stored]
    if had_rows:
        rows = await connection.execute(_SEARCH_ROWS_OF, {"entity_ids": had_rows})
        existing = {(row[0], row[1], row[2], row[3]) for row in rows}
    wanted = {
        (item.entity_id, key, value, original)
        for item in changed
        for key, value, original in item.search_rows
    }
    await connection.execute(
        _UPSERT_FINAL_UNNEST,
        {
            "now": datetime.now(UTC),
            "entity_ids": ids,
            "entity_refs": [item.entity_ref for item in changed],
            "hashes": [item.digest for item in changed],
            "final_entities": [_encode.encode(item.entity).decode() for item in changed],
        },
    )
    removed = existing - wanted
    if removed:
        await connection.execute(_DELETE_SEARCH_UNNEST, _search_columns(removed))
    added = wanted - existing
    if added:
        await connection.execute(_INSERT_SEARCH_UNNEST, _search_columns(added))


async def stitch_entities(connection: AsyncConnection, entity_refs: Collection[str]) -> list[str]:
    """Stitch every ref (lowercased `kind:namespace/name`) and return the refs whose final
    entity changed. Refs with no processed entity are skipped; an entity whose search rows
    cannot be built keeps its previous final version. The caller owns the transaction."""
    refs = sorted(set(entity_refs))
    changed_refs: list[str] = []
    for start in range(0, len(refs), BATCH_SIZE):
        batch = refs[start : start + BATCH_SIZE]
        states, by_source, referenced, hashes = await _read_batch(connection, batch)
        changed: list[_Stitched] = []
        for index, (entity_id, ref, processed_text, errors_text) in enumerate(states, 1):
            if index % _BUILT_PER_TURN == 0:
                await asyncio.sleep(0)
            if not processed_text:
                continue
            entity, digest = build_final_entity(
                _decode.decode(processed_text),
                relation_rows=by_source.get(ref, ()),
                errors_text=errors_text,
                orphan=ref not in referenced,
            )
            if hashes.get(entity_id) == digest:
                continue
            try:
                rows = search_rows(entity)
            except InputError:
                continue
            changed.append(_Stitched(entity_id, ref, digest, entity, rows))
        if changed:
            await _write_final(connection, changed, hashes.keys())
            changed_refs.extend(item.entity_ref for item in changed)
    return changed_refs
