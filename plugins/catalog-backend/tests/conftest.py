"""Fixtures: the catalog's database on SQLite and on the test Postgres, and seeding."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from backstage_backend_test_utils import postgres_database_config
from backstage_plugin_catalog_backend._tables import (
    refresh_state,
    refresh_state_references,
    relations,
)
from backstage_plugin_catalog_backend.stitching import stitch_entities
from sqlalchemy.ext.asyncio import AsyncEngine

Seed = Callable[[Sequence[Mapping[str, Any]]], Awaitable[list[str]]]


def entity_ref_of(entity: Mapping[str, Any]) -> str:
    metadata = entity["metadata"]
    namespace = metadata.get("namespace") or "default"
    return f"{entity['kind']}:{namespace}/{metadata['name']}".lower()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_config(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """`backend.database` for a fresh catalog database: SQLite in memory, or a database of
    its own on the test Postgres (dropped afterwards)."""
    if request.param == "sqlite":
        yield {"client": "better-sqlite3", "connection": ":memory:"}
        return
    async with postgres_database_config() as config:
        yield config


@pytest.fixture
async def postgres_config() -> AsyncIterator[dict[str, Any]]:
    """`backend.database` for a fresh catalog database on the test Postgres only."""
    async with postgres_database_config() as config:
        yield config


async def seed_processed(
    engine: AsyncEngine,
    entities: Sequence[Mapping[str, Any]],
    *,
    parents: Mapping[str, str] | None = None,
) -> list[str]:
    """Store `entities` as processed by a provider named `test`, with the relations their
    `relations` key lists (both directions are the caller's business; a relation with a
    `sourceRef` is one the entity emitted for another source), and stitch them.
    `parents` maps a ref to the ref of the entity that emitted it (instead of the
    provider). Returns their refs. Each entity gets a uid when it has none."""
    now = datetime.now(UTC)
    refs: list[str] = []
    async with engine.begin() as connection:
        for given in entities:
            entity = msgspec.json.decode(msgspec.json.encode(given))
            ref = entity_ref_of(entity)
            entity_id = entity["metadata"].setdefault("uid", str(uuid.uuid4()))
            wanted = entity.pop("relations", [])
            text = msgspec.json.encode(entity).decode()
            await connection.execute(
                sa.insert(refresh_state).values(
                    entity_id=entity_id,
                    entity_ref=ref,
                    unprocessed_entity=text,
                    processed_entity=text,
                    errors="",
                    next_update_at=now,
                    last_discovery_at=now,
                )
            )
            for relation in wanted:
                await connection.execute(
                    sa.insert(relations).values(
                        originating_entity_id=entity_id,
                        source_entity_ref=relation.get("sourceRef", ref).lower(),
                        type=relation["type"],
                        target_entity_ref=relation["targetRef"].lower(),
                    )
                )
            refs.append(ref)
        for ref in refs:
            parent = (parents or {}).get(ref)
            source = {"source_entity_ref": parent} if parent else {"source_key": "test"}
            await connection.execute(
                sa.insert(refresh_state_references).values(target_entity_ref=ref, **source)
            )
        await stitch_entities(connection, refs)
    return refs
