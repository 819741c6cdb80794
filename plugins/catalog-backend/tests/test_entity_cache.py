"""The in-process entity cache of the reads by name, uid and refs (Postgres): a hit costs
no statement, and a request never gets an entity older than what was committed before it
started: not after an update, a deletion, nor when a writer was still open while the
entity was read."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from backstage_backend_test_utils import mock_credentials
from backstage_common.config import Config
from backstage_common.errors import InputError
from backstage_plugin_catalog_backend._tables import final_entities
from backstage_plugin_catalog_backend.api import _entity_cache
from backstage_plugin_catalog_backend.api._entity_cache import (
    CounterState,
    EntityCache,
    Found,
    entity_cache_from_config,
)
from backstage_plugin_catalog_backend.api._entity_texts import EntityTexts

from ._policy import table_permissions_factory
from .sample_catalog import Catalog, started_catalog
from .test_entities_by_query import recorded_statements
from .test_permissions_reads import ALICE, get, read_policy

PETSTORE = "component:default/petstore"
WEBSITE = "component:default/website"
NOTHING = "component:default/nothing"
# the processing loop stays still: only the tests write
STILL = {"catalog": {"processingInterval": False}}


@asynccontextmanager
async def cached(
    config: dict[str, Any], **options: Any
) -> AsyncIterator[tuple[Catalog, EntityTexts]]:
    """The started sample catalog and reads over its engine with a cache of their own."""
    async with started_catalog(config, config=STILL, **options) as catalog:
        reads = catalog.engine.execution_options(isolation_level="AUTOCOMMIT")
        yield catalog, EntityTexts(catalog.engine, reads, EntityCache())


def _cache(texts: EntityTexts) -> EntityCache:
    assert texts.cache is not None
    return texts.cache


async def _set_text(catalog: Catalog, ref: str, text: str) -> None:
    async with catalog.engine.begin() as connection:
        await connection.execute(
            sa.update(final_entities)
            .where(final_entities.c.entity_ref == ref)
            .values(final_entity=text)
        )


async def _delete(catalog: Catalog, ref: str) -> None:
    async with catalog.engine.begin() as connection:
        await connection.execute(
            sa.delete(final_entities).where(final_entities.c.entity_ref == ref)
        )


async def _writer(config: dict[str, Any]) -> asyncpg.Connection:
    return await asyncpg.connect(database=f"{config['prefix']}catalog", **config["connection"])


async def test_a_hit_is_served_without_a_statement(postgres_config: dict[str, Any]) -> None:
    async with cached(postgres_config) as (catalog, texts):
        cache = _cache(texts)
        first = await texts.by_ref(PETSTORE)
        assert first is not None
        assert '"petstore"' in first
        assert (cache.misses, cache.hits, len(cache)) == (1, 0, 1)
        assert await texts.by_ref(PETSTORE) == first
        assert (cache.misses, cache.hits) == (1, 1)
        found = await texts.by_refs([PETSTORE, WEBSITE, NOTHING])
        assert found[PETSTORE] == first
        assert set(found) == {PETSTORE, WEBSITE}
        assert (cache.misses, cache.hits) == (3, 2)  # website and nothing were read
        assert await texts.by_refs([WEBSITE.upper(), NOTHING, PETSTORE]) == found
        assert await texts.by_ref(NOTHING) is None
        assert (cache.misses, cache.hits) == (3, 6)  # a missing ref is kept too
        uid = (await catalog.get("/entities/by-name/component/default/petstore")).json()
        assert await texts.by_uid(uid["metadata"]["uid"]) == first
        assert (cache.misses, cache.hits) == (3, 7)
        assert await texts.by_uid("no-such-uid") is None
        assert cache.misses == 4


async def test_each_write_committed_before_a_read_is_seen(postgres_config: dict[str, Any]) -> None:
    async with cached(postgres_config) as (catalog, texts):
        cache = _cache(texts)
        before = await texts.by_refs([PETSTORE, WEBSITE])
        uid = (await catalog.get("/entities/by-name/component/default/website")).json()
        uid = uid["metadata"]["uid"]
        assert await texts.by_uid(uid) == before[WEBSITE]
        assert await texts.by_refs([PETSTORE, WEBSITE]) == before
        hits = cache.hits
        assert hits == 3
        await _set_text(catalog, PETSTORE, '{"changed":1}')
        assert await texts.by_ref(PETSTORE) == '{"changed":1}'
        assert (await texts.by_refs([PETSTORE, WEBSITE]))[PETSTORE] == '{"changed":1}'
        await _set_text(catalog, PETSTORE, '{"changed":2}')
        assert (await texts.by_refs([WEBSITE, PETSTORE]))[PETSTORE] == '{"changed":2}'
        await _delete(catalog, WEBSITE)
        assert await texts.by_refs([PETSTORE, WEBSITE]) == {PETSTORE: '{"changed":2}'}
        assert await texts.by_ref(WEBSITE) is None
        assert await texts.by_uid(uid) is None
        assert cache.hits > hits  # it kept serving from memory between the writes


async def test_the_routes_see_each_committed_write(postgres_config: dict[str, Any]) -> None:
    async with started_catalog(postgres_config, config=STILL) as catalog:
        path = "/entities/by-name/component/default/petstore"
        refs = {"entityRefs": [PETSTORE, WEBSITE]}
        first = await catalog.get(path)
        uid = first.json()["metadata"]["uid"]
        for _ in range(3):
            assert (await catalog.get(path)).text == first.text
            assert (await catalog.get(f"/entities/by-uid/{uid}")).text == first.text
            items = (await catalog.post("/entities/by-refs", refs)).json()["items"]
            assert [item["metadata"]["name"] for item in items] == ["petstore", "website"]
        await _set_text(catalog, PETSTORE, '{"kind":"Component","changed":true}')
        assert (await catalog.get(path)).json() == {"kind": "Component", "changed": True}
        items = (await catalog.post("/entities/by-refs", refs)).json()["items"]
        assert items[0] == {"kind": "Component", "changed": True}
        await _delete(catalog, PETSTORE)
        assert (await catalog.get(path)).status_code == 404
        assert (await catalog.get(f"/entities/by-uid/{uid}")).status_code == 404
        items = (await catalog.post("/entities/by-refs", refs)).json()["items"]
        assert items[0] is None
        assert items[1]["metadata"]["name"] == "website"


@pytest.mark.parametrize("table", ["final_entities", "search"])
async def test_a_row_read_while_a_writer_is_open_is_not_kept(
    postgres_config: dict[str, Any], table: str
) -> None:
    """The writer moved the counter before the read and commits after it: its transaction
    is the newest, so the read's snapshot does not list it as running; its lock shows it."""
    async with cached(postgres_config) as (_catalog, texts):
        cache = _cache(texts)
        old = await texts.by_ref(PETSTORE)
        writer = await _writer(postgres_config)
        try:
            transaction = writer.transaction()
            await transaction.start()
            await writer.execute(
                "UPDATE final_entities SET final_entity = '{\"new\":1}' WHERE entity_ref = $1",
                PETSTORE,
            )
            if table == "search":
                # the counter moves again, by a statement on the other table
                await writer.execute("DELETE FROM search WHERE false")
            # misses while the writer is open: read, served, not kept
            assert await texts.by_ref(PETSTORE) == old
            assert (await texts.by_refs([PETSTORE, WEBSITE]))[PETSTORE] == old
            assert len(cache) == 0
            await transaction.commit()
        finally:
            await writer.close()
        assert await texts.by_ref(PETSTORE) == '{"new":1}'
        assert (await texts.by_refs([PETSTORE]))[PETSTORE] == '{"new":1}'
        assert len(cache) == 1  # kept now that no writer is open


async def test_concurrent_requests_share_the_counter_read(postgres_config: dict[str, Any]) -> None:
    async with cached(postgres_config) as (catalog, texts):
        await texts.by_refs([PETSTORE, WEBSITE])
        with recorded_statements(catalog.engine) as statements:
            # a listener turns the direct path off; these go through SQLAlchemy, uncached
            assert await texts.by_ref(PETSTORE) is not None
        assert len(statements) == 1
        cache = _cache(texts)
        hits = cache.hits
        results = await asyncio.gather(*(texts.by_ref(PETSTORE) for _ in range(20)))
        assert len(set(results)) == 1
        assert cache.hits == hits + 20


async def test_a_read_through_listeners_does_not_use_the_cache(
    postgres_config: dict[str, Any],
) -> None:
    async with cached(postgres_config) as (catalog, texts):
        cache = _cache(texts)
        await texts.by_ref(PETSTORE)
        with recorded_statements(catalog.engine) as statements:
            await _set_text(catalog, PETSTORE, '{"changed":1}')
            assert await texts.by_ref(PETSTORE) == '{"changed":1}'
            assert await texts.by_refs([PETSTORE]) == {PETSTORE: '{"changed":1}'}
        assert any("final_entities" in statement for statement in statements)
        assert (cache.hits, cache.misses) == (0, 1)


async def test_sqlite_reads_have_no_cache() -> None:
    config = {"client": "better-sqlite3", "connection": ":memory:"}
    async with started_catalog(config, config=STILL) as catalog:
        texts = EntityTexts(catalog.engine, catalog.engine, EntityCache())
        assert texts.cache is None
        await _set_text(catalog, PETSTORE, '{"changed":1}')
        assert await texts.by_ref(PETSTORE) == '{"changed":1}'
        assert await texts.by_refs([PETSTORE, NOTHING]) == {PETSTORE: '{"changed":1}'}


async def test_a_restricted_caller_is_not_served_from_the_cache(
    postgres_config: dict[str, Any],
) -> None:
    known = set(_entity_cache._CACHES)
    features = [table_permissions_factory(read_policy())]
    async with started_catalog(postgres_config, config=STILL, features=features) as catalog:
        (cache,) = set(_entity_cache._CACHES) - known
        website = "/entities/by-name/component/default/website"
        service = mock_credentials.service_header()
        assert (
            await catalog.test.client.get(f"/api/catalog{website}", headers=service)
        ).status_code == 200
        assert (cache.misses, len(cache)) == (1, 1)
        # alice may not read team-b's website, which the cache holds
        assert (await get(catalog, website, ALICE)).status_code == 404
        assert (
            await get(catalog, "/entities/by-name/component/default/petstore", ALICE)
        ).status_code == 200
        assert (cache.misses, cache.hits, len(cache)) == (1, 0, 1)


def _row(index: int, size: int) -> Found:
    return Found(f"component:default/entity-{index:06d}", f"uid-{index:032d}", "x" * size)


def test_the_byte_budget_holds_the_most_recently_used() -> None:
    cache = EntityCache(max_bytes=100_000)
    state = CounterState(7, settled=True)
    cache.observe(state)
    cache.keep(state, 7, (_row(index, 1_000) for index in range(200)))
    assert cache.bytes <= 100_000
    kept = len(cache)
    assert 50 < kept < 100
    assert cache.get(_row(0, 0).ref) is _entity_cache.MISSING
    newest = _row(199, 0).ref
    assert cache.get(newest) == "x" * 1_000
    # a read moves an entry to the end: the next ones push out the oldest others
    oldest = _row(200 - kept, 0).ref
    assert cache.get(oldest) == "x" * 1_000
    cache.keep(state, 7, (_row(index, 1_000) for index in range(200, 210)))
    assert cache.get(oldest) == "x" * 1_000
    assert cache.get(_row(201 - kept, 0).ref) is _entity_cache.MISSING
    # an entry larger than the budget is not kept
    cache.keep(state, 7, [_row(999, 200_000)])
    assert cache.get(_row(999, 0).ref) is _entity_cache.MISSING


def test_rows_are_kept_only_at_the_tag_and_without_a_writer() -> None:
    cache = EntityCache()
    cache.observe(CounterState(5, settled=True))
    cache.keep(CounterState(5, settled=False), 5, [_row(1, 10)])
    cache.keep(CounterState(5, settled=True), 6, [_row(2, 10)])
    cache.keep(CounterState(4, settled=True), 4, [_row(3, 10)])
    assert len(cache) == 0
    cache.keep(CounterState(5, settled=True), 5, [_row(4, 10)])
    assert len(cache) == 1
    # an older read does not empty it; a newer one does
    cache.observe(CounterState(4, settled=True))
    assert len(cache) == 1
    cache.observe(CounterState(6, settled=True))
    assert len(cache) == 0


def test_the_budget_counts_at_least_what_the_entries_take() -> None:
    cache = EntityCache(max_bytes=64 * 1024 * 1024)
    state = CounterState(1, settled=True)
    cache.observe(state)
    rows = [_row(index, 1_500) for index in range(5_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cache.keep(state, 1, rows)
        taken = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # the strings are the rows' own: what the cache adds is its map and tuples
    strings = sum(len(row.text or "") + len(row.ref) for row in rows)
    assert taken + strings <= cache.bytes


@pytest.mark.parametrize(
    ("entities", "expected"),
    [
        ({}, 32 * 1024 * 1024),
        ({"maxBytes": 1_000_000}, 1_000_000),
        ({"enabled": False}, None),
        ({"maxBytes": 0}, None),
    ],
)
def test_config(entities: dict[str, Any], expected: int | None) -> None:
    cache = entity_cache_from_config(
        Config.from_data({"catalog": {"cache": {"entities": entities}}})
    )
    assert (None if cache is None else cache.max_bytes) == expected


@pytest.mark.parametrize("value", [-1, 1.5, "big", True])
def test_a_bad_budget_is_refused(value: Any) -> None:
    with pytest.raises(InputError):
        entity_cache_from_config(
            Config.from_data({"catalog": {"cache": {"entities": {"maxBytes": value}}}})
        )
