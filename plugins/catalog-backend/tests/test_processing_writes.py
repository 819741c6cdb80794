"""The processing writes' building blocks on SQLite and on Postgres: rows written as
arrays (`insert_rows`, `update_rows`) and the stitch queue's due times (`enqueue_stitch`):
a relation peer's stitch waits `PEER_STITCH_DELAY`, and a stitch already due sooner keeps
its time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._tables import refresh_state, stitch_queue
from backstage_plugin_catalog_backend.processing._arrays import insert_rows, update_rows
from backstage_plugin_catalog_backend.processing._loop import ProcessingLoop
from backstage_plugin_catalog_backend.processing._store import (
    PEER_STITCH_DELAY,
    enqueue_stitch,
)
from sqlalchemy.dialects import sqlite

from ._support import Probe, probe_module


@asynccontextmanager
async def _catalog_database(database_config: dict[str, Any]) -> AsyncIterator[ProcessingLoop]:
    """The catalog's migrated database (its processing loop's transactions), with
    processing off."""
    probe = Probe()
    config = {
        "backend": {"database": database_config},
        "catalog": {"processingInterval": False},
    }
    async with start_test_backend(features=[catalog_plugin(), probe_module(probe)], config=config):
        yield probe.catalog.processing


async def _due(database: ProcessingLoop) -> dict[str, tuple[str, datetime]]:
    async with database.transaction() as connection:
        rows = await connection.execute(
            sa.select(
                stitch_queue.c.entity_ref,
                stitch_queue.c.stitch_ticket,
                stitch_queue.c.next_stitch_at,
            )
        )
        # SQLite gives its timestamps back without their zone
        return {ref: (ticket, at.replace(tzinfo=UTC)) for ref, ticket, at in rows}


async def test_a_peer_stitch_waits_and_an_earlier_one_keeps_its_time(
    database_config: dict[str, Any],
) -> None:
    async with _catalog_database(database_config) as database:
        before = datetime.now(UTC)
        async with database.transaction() as connection:
            await enqueue_stitch(connection, ["component:default/a"], later=["group:default/g"])
        first = await _due(database)
        soon = before + timedelta(seconds=PEER_STITCH_DELAY)
        assert first["component:default/a"][1] < soon
        assert first["group:default/g"][1] >= soon

        # a later ask leaves a sooner one as it was, but with a new ticket
        async with database.transaction() as connection:
            await enqueue_stitch(connection, [], later=["component:default/a"])
        second = await _due(database)
        assert second["component:default/a"][1] == first["component:default/a"][1]
        assert second["component:default/a"][0] != first["component:default/a"][0]

        # a sooner ask brings a waiting one forward; a ref in both is due now
        async with database.transaction() as connection:
            await enqueue_stitch(
                connection, ["group:default/g", "user:default/u"], later=["user:default/u"]
            )
        third = await _due(database)
        assert third["group:default/g"][1] < soon
        assert third["user:default/u"][1] < soon
        assert set(third) == {"component:default/a", "group:default/g", "user:default/u"}


def _state(ref: str, text: str | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "entity_id": str(uuid.uuid4()),
        "entity_ref": ref,
        "unprocessed_entity": "{}",
        "processed_entity": text,
        "errors": "",
        "next_update_at": now,
        "last_discovery_at": now,
    }


async def test_rows_written_as_arrays_read_back_the_same(
    database_config: dict[str, Any],
) -> None:
    async with _catalog_database(database_config) as database:
        rows = [_state(f"component:default/c{index}", None) for index in range(3)]
        do_nothing = sqlite.insert(refresh_state).on_conflict_do_nothing(
            index_elements=["entity_ref"]
        )
        async with database.transaction() as connection:
            await insert_rows(connection, refresh_state, rows)
            # a ref already stored is left as it was
            await insert_rows(
                connection,
                refresh_state,
                [_state("component:default/c0", "new"), _state("component:default/d", "d")],
                on_conflict="ON CONFLICT (entity_ref) DO NOTHING",
                fallback=do_nothing,
            )
            await update_rows(
                connection,
                refresh_state,
                "entity_id",
                [
                    {"entity_id": rows[1]["entity_id"], "processed_entity": "one", "errors": "e"},
                    {"entity_id": rows[2]["entity_id"], "processed_entity": None, "errors": ""},
                ],
            )
            stored = {
                ref: (entity_id, text, errors)
                for ref, entity_id, text, errors in await connection.execute(
                    sa.select(
                        refresh_state.c.entity_ref,
                        refresh_state.c.entity_id,
                        refresh_state.c.processed_entity,
                        refresh_state.c.errors,
                    )
                )
            }
        assert stored == {
            "component:default/c0": (rows[0]["entity_id"], None, ""),
            "component:default/c1": (rows[1]["entity_id"], "one", "e"),
            "component:default/c2": (rows[2]["entity_id"], None, ""),
            "component:default/d": (stored["component:default/d"][0], "d", ""),
        }
