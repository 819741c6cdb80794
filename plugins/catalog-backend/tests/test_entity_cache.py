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
import msgspec
import pytest
import sqlalchemy as sa
from backstage_backend_test_utils import mock_credentials
from backstage_common.config import Config
from backstage_common.errors import InputError
from backstage_plugin_catalog_backend._tables import final_entities
from backstage_plugin_catalog_backend.api import _cached_reads, _entity_cache
from backstage_plugin_catalog_backend.api._cached_reads import CachedReads
from backstage_plugin_catalog_backend.api._entity_cache import (
    MISSING,
    EntityCache,
    Found,
    entity_cache_from_config,
)
from backstage_plugin_catalog_backend.api._entity_texts import EntityTexts
from sqlalchemy.exc import DBAPIError

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
        cache = EntityCache(warm_up=False)
        yield catalog, EntityTexts(catalog.engine, reads, cache)


def _cache(texts: EntityTexts) -> EntityCache:
    return _cached(texts).cache


def _cached(texts: EntityTexts) -> CachedReads:
    assert texts.cached is not None
    return texts.cached


async def _until_kept(texts: EntityTexts, *refs: str) -> None:
    """Read `refs` until the cache keeps them: it keeps a read only when no transaction of
    the whole server was open at its snapshot, and other databases may have some."""
    for _ in range(500):
        await texts.by_refs(refs)
        if all(_cache(texts).get(ref) is not MISSING for ref in refs):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{refs} never kept")


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
    async with cached(postgres_config) as (_catalog, texts):
        cache = _cache(texts)
        first = await texts.by_ref(PETSTORE)
        assert first is not None
        assert '"petstore"' in first
        await _until_kept(texts, PETSTORE, WEBSITE, NOTHING)
        misses, hits = cache.misses, cache.hits
        writer = await _writer(postgres_config)
        try:
            # hits read the counter alone: they are served without the table
            await writer.execute("ALTER TABLE final_entities RENAME TO final_entities_away")
            assert await texts.by_ref(PETSTORE) == first
            found = await texts.by_refs([WEBSITE.upper(), NOTHING, PETSTORE])
            assert set(found) == {PETSTORE, WEBSITE}
            assert found[PETSTORE] == first
            assert await texts.by_ref(NOTHING) is None  # a missing ref is kept too
            uid = msgspec.json.decode(first)["metadata"]["uid"]
            assert await texts.by_uid(uid) == first
            with pytest.raises(DBAPIError):
                await texts.by_ref("component:default/worker")
            await writer.execute("ALTER TABLE final_entities_away RENAME TO final_entities")
        finally:
            await writer.close()
        assert (cache.misses, cache.hits) == (misses, hits + 6)
        assert await texts.by_uid("no-such-uid") is None
        assert cache.misses == misses + 1


async def test_each_write_committed_before_a_read_is_seen(postgres_config: dict[str, Any]) -> None:
    async with cached(postgres_config) as (catalog, texts):
        cache = _cache(texts)
        before = await texts.by_refs([PETSTORE, WEBSITE])
        uid = msgspec.json.decode(before[WEBSITE])["metadata"]["uid"]
        await _until_kept(texts, PETSTORE, WEBSITE)
        assert await texts.by_uid(uid) == before[WEBSITE]
        hits = cache.hits
        await _set_text(catalog, PETSTORE, '{"changed":1}')
        assert await texts.by_ref(PETSTORE) == '{"changed":1}'
        assert (await texts.by_refs([PETSTORE, WEBSITE]))[PETSTORE] == '{"changed":1}'
        await _until_kept(texts, PETSTORE, WEBSITE)
        await _set_text(catalog, PETSTORE, '{"changed":2}')
        assert (await texts.by_refs([WEBSITE, PETSTORE]))[PETSTORE] == '{"changed":2}'
        await _until_kept(texts, PETSTORE, WEBSITE)
        assert await texts.by_uid(uid) == before[WEBSITE]
        await _delete(catalog, WEBSITE)
        assert await texts.by_refs([PETSTORE, WEBSITE]) == {PETSTORE: '{"changed":2}'}
        assert await texts.by_ref(WEBSITE) is None
        assert await texts.by_uid(uid) is None
        assert cache.hits > hits  # it served from memory between the writes


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


async def _open_writer(config: dict[str, Any], table: str) -> tuple[Any, Any]:
    """A connection with an open transaction that changed petstore and moved the counter
    (last by a statement on `table`)."""
    writer = await _writer(config)
    transaction = writer.transaction()
    await transaction.start()
    await writer.execute(
        "UPDATE final_entities SET final_entity = '{\"new\":1}' WHERE entity_ref = $1",
        PETSTORE,
    )
    if table == "search":
        await writer.execute("DELETE FROM search WHERE false")
    return writer, transaction


@pytest.mark.parametrize("table", ["final_entities", "search"])
async def test_a_row_read_while_a_writer_is_open_is_not_kept(
    postgres_config: dict[str, Any], table: str
) -> None:
    """The writer moved the counter before the read and commits after it, without moving
    it again; its transaction is the newest, so the read's snapshot does not list it among
    the running ones."""
    async with cached(postgres_config) as (_catalog, texts):
        cache = _cache(texts)
        old = await texts.by_ref(PETSTORE)
        await _until_kept(texts, PETSTORE)
        writer, transaction = await _open_writer(postgres_config, table)
        try:
            # misses while the writer is open: read, served, not kept
            assert await texts.by_ref(PETSTORE) == old
            assert (await texts.by_refs([PETSTORE, WEBSITE]))[PETSTORE] == old
            assert await texts.by_ref(PETSTORE) == old
            assert len(cache) == 0
            await transaction.commit()
        finally:
            await writer.close()
        assert await texts.by_ref(PETSTORE) == '{"new":1}'
        assert (await texts.by_refs([PETSTORE]))[PETSTORE] == '{"new":1}'
        await _until_kept(texts, PETSTORE)
        assert await texts.by_ref(PETSTORE) == '{"new":1}'


async def test_a_warm_up_keeps_nothing_while_a_writer_is_open(
    postgres_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_entity_cache, "WARM_QUIET_S", 0.0)
    async with started_catalog(postgres_config, config=STILL) as catalog:
        texts = EntityTexts(catalog.engine, catalog.engine, EntityCache())
        writer, transaction = await _open_writer(postgres_config, "final_entities")
        try:
            old = await texts.by_ref(PETSTORE)
            warm_up = _cached(texts).warm_up
            assert warm_up is not None
            await warm_up
            assert len(_cache(texts)) == 0
            await transaction.commit()
        finally:
            await writer.close()
        assert old != '{"new":1}'
        assert await texts.by_ref(PETSTORE) == '{"new":1}'


async def test_concurrent_requests_share_the_counter_read(postgres_config: dict[str, Any]) -> None:
    async with cached(postgres_config) as (catalog, texts):
        await _until_kept(texts, PETSTORE)
        counter = catalog.engine.sync_engine.pool
        cache = _cache(texts)
        hits = cache.hits
        checked_out = 0

        def checkout(*_: Any) -> None:
            nonlocal checked_out
            checked_out += 1

        sa.event.listen(counter, "checkout", checkout)
        try:
            results = await asyncio.gather(*(texts.by_ref(PETSTORE) for _ in range(20)))
        finally:
            sa.event.remove(counter, "checkout", checkout)
        assert len(set(results)) == 1
        assert cache.hits == hits + 20
        assert checked_out <= 2  # one read of the counter, or two when one was in flight


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
        assert texts.cached is None
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
        for _ in range(500):
            response = await catalog.test.client.get(f"/api/catalog{website}", headers=service)
            assert response.status_code == 200
            if WEBSITE in cache:
                break
            await asyncio.sleep(0.01)
        assert WEBSITE in cache
        misses, hits = cache.misses, cache.hits
        # alice may not read team-b's website, which the cache holds
        assert (await get(catalog, website, ALICE)).status_code == 404
        petstore = await get(catalog, "/entities/by-name/component/default/petstore", ALICE)
        assert petstore.status_code == 200
        assert (cache.misses, cache.hits) == (misses, hits)


async def test_a_quiet_catalog_is_read_into_the_cache(
    postgres_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_entity_cache, "WARM_QUIET_S", 0.0)
    monkeypatch.setattr(_cached_reads, "_WARM_CHUNK", 5)
    async with started_catalog(postgres_config, config=STILL) as catalog:
        texts = EntityTexts(catalog.engine, catalog.engine, EntityCache())
        cache = _cache(texts)
        stored = {ref: text for ref, _, text in await catalog.stored() if text is not None}
        await texts.by_ref(NOTHING)
        warm_up = _cached(texts).warm_up
        assert warm_up is not None
        await warm_up
        assert len(cache) >= len(stored)  # three chunks
        assert await texts.by_refs(list(stored)) == stored
        assert (cache.misses, cache.hits) == (1, len(stored))
        # once per tag
        await texts.by_ref(PETSTORE)
        assert not cache.should_warm()


def _row(index: int, size: int) -> Found:
    return Found(f"component:default/entity-{index:06d}", f"uid-{index:032d}", "x" * size)


def test_the_byte_budget_holds_the_most_recently_used() -> None:
    cache = EntityCache(max_bytes=100_000)
    cache.keep(7, (_row(index, 1_000) for index in range(200)))
    assert cache.bytes <= 100_000
    kept = len(cache)
    assert 50 < kept < 100
    assert cache.get(_row(0, 0).ref) is MISSING
    newest = _row(199, 0).ref
    assert cache.get(newest) == "x" * 1_000
    # a read moves an entry to the end: the next ones push out the oldest others
    oldest = _row(200 - kept, 0).ref
    assert cache.get(oldest) == "x" * 1_000
    cache.keep(7, (_row(index, 1_000) for index in range(200, 210)))
    assert cache.get(oldest) == "x" * 1_000
    assert cache.get(_row(201 - kept, 0).ref) is MISSING
    # an entry larger than the budget is not kept
    cache.keep(7, [_row(999, 200_000)])
    assert cache.get(_row(999, 0).ref) is MISSING


def test_rows_of_an_older_counter_are_dropped_and_a_newer_one_empties_the_cache() -> None:
    cache = EntityCache()
    cache.observe(5)
    cache.keep(4, [_row(1, 10)])
    assert len(cache) == 0
    cache.keep(5, [_row(2, 10)])
    assert len(cache) == 1
    cache.observe(4)
    assert len(cache) == 1
    cache.keep(6, [_row(3, 10)])
    assert cache.get(_row(2, 0).ref) is MISSING
    assert cache.get(_row(3, 0).ref) == "x" * 10
    cache.observe(7)
    assert len(cache) == 0


def test_the_budget_counts_at_least_what_the_entries_take() -> None:
    cache = EntityCache(max_bytes=64 * 1024 * 1024)
    rows = [_row(index, 1_500) for index in range(5_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cache.keep(1, rows)
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
