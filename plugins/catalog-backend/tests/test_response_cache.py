"""The in-process response cache of entity lists and by-query pages (Postgres): a repeated
request is served without a query, and a request never gets a response older than what
was committed before it started: not after an update, a deletion, nor when a writer was
still open while the response was made."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from backstage_common.config import Config
from backstage_common.errors import InputError
from backstage_plugin_catalog_backend.api import _list, _response_cache
from backstage_plugin_catalog_backend.api._entity_texts import EntityTexts
from backstage_plugin_catalog_backend.api._response_cache import (
    CachedResponses,
    KeptResponse,
    Miss,
    ResponseCache,
    response_cache_from_config,
)
from litestar.response import Stream

from ._policy import table_permissions_factory
from .sample_catalog import Catalog, started_catalog
from .test_entity_cache import PETSTORE, STILL, _delete, _set_text
from .test_permissions_reads import ALICE, get, post, read_policy

QUERY = {"filter": "kind=component", "orderField": "metadata.name,asc", "limit": 2}
USERS = {"filter": "kind=user"}
# the same page as `QUERY`, as the catalog client sends a query with a predicate
QUERY_BODY = {
    "query": {"kind": "component"},
    "orderBy": [{"field": "metadata.name", "order": "asc"}],
    "limit": 2,
}


@asynccontextmanager
async def cached(
    config: dict[str, Any], **options: Any
) -> AsyncIterator[tuple[Catalog, ResponseCache]]:
    """The started sample catalog and the response cache its routes use."""
    known = set(_response_cache._CACHES)
    async with started_catalog(config, config=STILL, **options) as catalog:
        (cache,) = set(_response_cache._CACHES) - known
        yield catalog, cache


async def _until_kept(
    catalog: Catalog, cache: ResponseCache, path: str, *, body: Any = None, **params: Any
) -> Any:
    """Ask (a POST of `body` when given) until the response is kept (nothing of this
    database may hold a write lock meanwhile) and return it."""
    for _ in range(500):
        kept, hits = cache.kept, cache.hits
        if body is None:
            response = await catalog.get(path, **params)
        else:
            response = await catalog.post(path, body)
        assert response.status_code == 200
        if cache.kept > kept or cache.hits > hits:
            return response
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} {params} never kept")


def _own_responses(catalog: Catalog, cache: ResponseCache) -> CachedResponses:
    """Cached responses of `cache` over the catalog's database, beside its routes' own."""
    reads = catalog.engine.execution_options(isolation_level="AUTOCOMMIT")
    texts = EntityTexts(catalog.engine, reads)
    return CachedResponses(texts.on_driver, cache, texts.counters)


async def _writer(config: dict[str, Any]) -> asyncpg.Connection:
    return await asyncpg.connect(database=f"{config['prefix']}catalog", **config["connection"])


def _names(response: Any) -> list[str]:
    body = response.json()
    items = body["items"] if isinstance(body, dict) else body
    return [item["metadata"]["name"] for item in items]


async def _walk(catalog: Catalog) -> list[Any]:
    """Every by-query page of `QUERY`, the first and then each next cursor's."""
    pages = [await catalog.get("/entities/by-query", **QUERY)]
    while cursor := pages[-1].json()["pageInfo"].get("nextCursor"):
        pages.append(await catalog.get("/entities/by-query", cursor=cursor, limit=2))
        assert len(pages) <= 2, "the sample has four components"
    return pages


async def test_repeated_pages_and_lists_are_served_without_a_query(
    postgres_config: dict[str, Any],
) -> None:
    async with cached(postgres_config) as (catalog, cache):
        for _ in range(500):
            before = cache.kept
            pages = await _walk(catalog)
            users = await catalog.get("/entities", **USERS)
            if cache.kept == before and cache.hits >= len(pages) + 1:
                break
            await asyncio.sleep(0.01)
        assert [name for page in pages for name in _names(page)] == [
            "monitor",
            "petstore",
            "website",
            "worker",
        ]
        assert len(pages) == 2
        assert _names(users) == ["alice", "bob"]
        misses, hits = cache.misses, cache.hits
        writer = await _writer(postgres_config)
        try:
            # hits read the counter alone: they are served without the tables
            await writer.execute("ALTER TABLE final_entities RENAME TO final_entities_away")
            await writer.execute("ALTER TABLE search RENAME TO search_away")
            again = await _walk(catalog)
            assert [page.content for page in again] == [page.content for page in pages]
            assert again[0].headers["content-type"] == pages[0].headers["content-type"]
            assert (await catalog.get("/entities", **USERS)).content == users.content
            # a different query string is its own request, not served from another's
            assert (await catalog.get("/entities", filter="kind=group")).status_code == 500
            await writer.execute("ALTER TABLE final_entities_away RENAME TO final_entities")
            await writer.execute("ALTER TABLE search_away RENAME TO search")
        finally:
            await writer.close()
        assert (cache.misses, cache.hits) == (misses, hits + 3)


async def test_different_query_strings_never_share(postgres_config: dict[str, Any]) -> None:
    async with cached(postgres_config) as (catalog, cache):
        two = await _until_kept(catalog, cache, "/entities/by-query", **QUERY)
        one = await catalog.get("/entities/by-query", **{**QUERY, "limit": 1})
        assert _names(two) == ["monitor", "petstore"]
        assert _names(one) == ["monitor"]
        reordered = await catalog.test.client.get(
            "/api/catalog/entities/by-query?limit=2&orderField=metadata.name,asc"
            "&filter=kind=component"
        )
        assert reordered.content == two.content
        paged = await catalog.get("/entities", limit=1, **USERS)
        assert _names(paged) == ["alice"]
        assert "after=" in paged.headers["link"]
        kept = await _until_kept(catalog, cache, "/entities", limit=1, **USERS)
        assert kept.headers["link"] == paged.headers["link"]  # its headers are kept too
        assert len(cache) >= 3


async def test_each_write_committed_before_a_request_is_seen(
    postgres_config: dict[str, Any],
) -> None:
    async with cached(postgres_config) as (catalog, cache):
        await _until_kept(catalog, cache, "/entities/by-query", **QUERY)
        await _until_kept(catalog, cache, "/entities", **USERS)
        hits = cache.hits
        changed = '{"kind":"Component","metadata":{"name":"petstore","changed":1}}'
        await _set_text(catalog, PETSTORE, changed)
        page = await catalog.get("/entities/by-query", **QUERY)
        assert page.json()["items"][1] == {
            "kind": "Component",
            "metadata": {"name": "petstore", "changed": 1},
        }
        page = await _until_kept(catalog, cache, "/entities/by-query", **QUERY)
        assert page.json()["items"][1]["metadata"]["changed"] == 1
        await _delete(catalog, PETSTORE)
        assert _names(await catalog.get("/entities/by-query", **QUERY)) == ["monitor", "website"]
        await _delete(catalog, "user:default/bob")
        assert _names(await catalog.get("/entities", **USERS)) == ["alice"]
        assert cache.hits > hits  # it served from memory between the writes


@pytest.mark.parametrize("table", ["final_entities", "search"])
async def test_a_response_made_while_a_writer_is_open_is_not_kept(
    postgres_config: dict[str, Any], table: str
) -> None:
    async with cached(postgres_config) as (catalog, cache):
        old = await _until_kept(catalog, cache, "/entities/by-query", **QUERY)
        writer = await _writer(postgres_config)
        try:
            transaction = writer.transaction()
            await transaction.start()
            # a write lock on the table alone (the counter moves with the update below)
            await writer.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE")
            await writer.execute("SELECT nextval('final_entity_changes')")
            kept = cache.kept
            for _ in range(3):
                response = await catalog.get("/entities/by-query", **QUERY)
                assert response.content == old.content
            assert cache.kept == kept
            assert len(cache) == 0
            await writer.execute(
                "UPDATE final_entities SET final_entity = $2 WHERE entity_ref = $1",
                PETSTORE,
                '{"metadata":{"name":"petstore","new":1}}',
            )
            await transaction.commit()
        finally:
            await writer.close()
        page = await catalog.get("/entities/by-query", **QUERY)
        assert page.json()["items"][1] == {"metadata": {"name": "petstore", "new": 1}}
        page = await _until_kept(catalog, cache, "/entities/by-query", **QUERY)
        assert page.json()["items"][1] == {"metadata": {"name": "petstore", "new": 1}}


async def test_a_write_while_a_miss_runs_keeps_nothing(postgres_config: dict[str, Any]) -> None:
    """A writer that begins after the miss's first read and commits before its second:
    the miss's statements may have read before it or after it."""
    async with started_catalog(postgres_config, config=STILL) as catalog:
        cache = ResponseCache()
        responses = _own_responses(catalog, cache)
        for _ in range(500):
            miss = await responses.lookup("/entities?quiet")
            assert isinstance(miss, Miss)
            if miss.room:
                break
            await asyncio.sleep(0.01)
        await miss.keep(b"[]")
        assert "/entities?quiet" in cache
        miss = await responses.lookup("/entities?written")
        assert isinstance(miss, Miss)
        assert miss.room
        await _set_text(catalog, PETSTORE, '{"changed":1}')
        await miss.keep(b"[]")
        assert "/entities?written" not in cache
        assert len(cache) == 0  # the counter moved past the tag


async def test_a_burst_of_one_list_makes_it_once(
    postgres_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests for a list another request is making wait for it and are served what it
    kept, instead of each making the list (a list of every user of a large catalog costs a
    copy per request)."""
    monkeypatch.setattr(_list, "STREAM_CHUNK_SIZE", 1)  # one page read per user
    async with cached(postgres_config) as (catalog, cache):
        await _until_kept(catalog, cache, "/entities/by-query", **QUERY)  # nothing writes
        misses, kept, hits = cache.misses, cache.kept, cache.hits
        burst = await asyncio.gather(*(catalog.get("/entities", **USERS) for _ in range(8)))
        assert {response.content for response in burst} == {burst[0].content}
        assert _names(burst[0]) == ["alice", "bob"]
        assert (cache.misses, cache.kept, cache.hits) == (misses + 1, kept + 1, hits + 7)


async def _settled_miss(responses: CachedResponses, key: str) -> Miss:
    for _ in range(500):
        miss = await responses.lookup(key)
        assert isinstance(miss, Miss)
        if miss.room:
            return miss
        del miss
        await asyncio.sleep(0.01)
    raise AssertionError("the database never settled")


async def test_a_miss_given_up_or_kept_lets_the_waiting_requests_go(
    postgres_config: dict[str, Any],
) -> None:
    async with started_catalog(postgres_config, config=STILL) as catalog:
        responses = _own_responses(catalog, ResponseCache())
        first = await _settled_miss(responses, "/entities?a")
        waiting = asyncio.ensure_future(responses.lookup("/entities?a"))
        other = await responses.lookup("/entities?b")  # another key never waits
        assert isinstance(other, Miss)
        await asyncio.sleep(0.2)
        assert not waiting.done()
        del first  # the request failed or its client went away: nothing kept
        second = await asyncio.wait_for(waiting, 1)
        assert isinstance(second, Miss)
        assert second.room  # it makes the response itself now
        waiting = asyncio.ensure_future(responses.lookup("/entities?a"))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await second.keep(b"[1]")
        served = await asyncio.wait_for(waiting, 1)
        assert isinstance(served, KeptResponse)
        assert served.body == b"[1]"


async def test_a_request_waits_for_another_at_most_making_wait(
    postgres_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_response_cache, "MAKING_WAIT_S", 0.3)
    async with started_catalog(postgres_config, config=STILL) as catalog:
        responses = _own_responses(catalog, ResponseCache())
        slow = await _settled_miss(responses, "/entities?slow")
        loop = asyncio.get_running_loop()
        started = loop.time()
        own = await asyncio.wait_for(responses.lookup("/entities?slow"), 5)
        assert isinstance(own, Miss)
        assert loop.time() - started >= 0.25
        await own.keep(b"[2]")
        await slow.keep(b"[1]")  # kept after, under the same counter: the later body wins
        assert responses.cache.get("/entities?slow") == KeptResponse(b"[1]", {})


async def test_a_miss_made_while_a_writer_is_open_holds_no_one(
    postgres_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_response_cache, "MAKING_WAIT_S", 30)
    async with started_catalog(postgres_config, config=STILL) as catalog:
        responses = _own_responses(catalog, ResponseCache())
        writer = await _writer(postgres_config)
        try:
            transaction = writer.transaction()
            await transaction.start()
            await writer.execute("LOCK TABLE final_entities IN ROW EXCLUSIVE MODE")
            first = await responses.lookup("/entities?written")
            assert isinstance(first, Miss)
            assert not first.room  # it will not be kept, so no one waits for it
            second = await asyncio.wait_for(responses.lookup("/entities?written"), 5)
            assert isinstance(second, Miss)
            await transaction.rollback()
        finally:
            await writer.close()


async def test_a_streamed_list_is_kept_whole(
    postgres_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_list, "STREAM_CHUNK_SIZE", 2)
    async with cached(postgres_config) as (catalog, cache):
        streamed = await catalog.get("/entities", filter="kind=component")
        assert _names(streamed) == ["petstore", "website", "worker", "monitor"]
        kept = await _until_kept(catalog, cache, "/entities", filter="kind=component")
        assert kept.content == streamed.content
        hits = cache.hits
        again = await catalog.get("/entities", filter="kind=component")
        assert again.content == streamed.content
        # sent as the list was: streamed, without a length
        assert "content-length" not in again.headers
        assert cache.hits == hits + 1
        # and in slices, so that a server holds one slice per slow reader, not the list
        monkeypatch.setattr(_response_cache, "SEND_SLICE", 7)
        ((kept_list, _),) = cache._entries.values()
        sliced = _response_cache.kept_json(kept_list)
        assert isinstance(sliced, Stream)
        chunks = [chunk async for chunk in sliced.iterator]
        assert b"".join(chunks) == streamed.content
        assert max(len(chunk) for chunk in chunks) == 7
        await _delete(catalog, "component:default/worker")
        names = _names(await catalog.get("/entities", filter="kind=component"))
        assert names == ["petstore", "website", "monitor"]


async def test_a_posted_query_is_kept_by_its_body(postgres_config: dict[str, Any]) -> None:
    async with cached(postgres_config) as (catalog, cache):
        first = await _until_kept(catalog, cache, "/entities/by-query", body=QUERY_BODY)
        assert _names(first) == ["monitor", "petstore"]
        cursor = first.json()["pageInfo"]["nextCursor"]
        second = await _until_kept(
            catalog, cache, "/entities/by-query", body={"cursor": cursor, "limit": 2}
        )
        assert _names(second) == ["website", "worker"]
        other = await _until_kept(catalog, cache, "/entities/by-query", body={"limit": 1})
        misses, hits = cache.misses, cache.hits
        writer = await _writer(postgres_config)
        try:
            # hits read the counter alone: they are served without the tables
            await writer.execute("ALTER TABLE final_entities RENAME TO final_entities_away")
            await writer.execute("ALTER TABLE search RENAME TO search_away")
            again = await catalog.post("/entities/by-query", QUERY_BODY)
            assert again.content == first.content
            assert again.headers["content-type"] == first.headers["content-type"]
            spaced = await catalog.test.client.post(
                "/api/catalog/entities/by-query",
                content=json.dumps(QUERY_BODY, indent=2),
                headers={"content-type": "application/json"},
            )
            assert spaced.content == first.content
            body = {"cursor": cursor, "limit": 2}
            assert (await catalog.post("/entities/by-query", body)).content == second.content
            assert (await catalog.post("/entities/by-query", {"limit": 1})).content == (
                other.content
            )
            # another body is another request, even one that lists the same entities
            # (its cursor would carry its own query), and a GET never shares a POST's entry
            for different in (
                {**QUERY_BODY, "limit": 3},
                {
                    "query": {"kind": "Component"},
                    **{k: QUERY_BODY[k] for k in ("orderBy", "limit")},
                },
                {"limit": 2, "orderBy": QUERY_BODY["orderBy"], "query": {"kind": "component"}},
            ):
                assert (await catalog.post("/entities/by-query", different)).status_code == 500
            assert (await catalog.get("/entities/by-query", limit=1)).status_code == 500
            await writer.execute("ALTER TABLE final_entities_away RENAME TO final_entities")
            await writer.execute("ALTER TABLE search_away RENAME TO search")
        finally:
            await writer.close()
        assert cache.hits == hits + 4
        # a write committed before a request is seen by it
        changed = '{"kind":"Component","metadata":{"name":"petstore","changed":1}}'
        await _set_text(catalog, PETSTORE, changed)
        page = await catalog.post("/entities/by-query", QUERY_BODY)
        assert page.json()["items"][1] == {
            "kind": "Component",
            "metadata": {"name": "petstore", "changed": 1},
        }
        assert cache.misses > misses


async def test_a_refused_body_is_never_kept(postgres_config: dict[str, Any]) -> None:
    async with cached(postgres_config) as (catalog, cache):
        await _until_kept(catalog, cache, "/entities/by-query", body=QUERY_BODY)
        size, misses, hits = len(cache), cache.misses, cache.hits
        for refused in (
            {**QUERY_BODY, "totalItems": "sometimes"},
            {**QUERY_BODY, "limit": -1},
            {"cursor": ""},
            {"query": {"$any": "not a list"}},
        ):
            response = await catalog.post("/entities/by-query", refused)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["name"] == "InputError"
        assert (len(cache), cache.misses, cache.hits) == (size, misses, hits)


async def test_a_restricted_caller_does_not_use_the_cache(
    postgres_config: dict[str, Any],
) -> None:
    features = [table_permissions_factory(read_policy())]
    async with cached(postgres_config, features=features) as (catalog, cache):
        await _until_kept(catalog, cache, "/entities/by-query", **QUERY)
        misses, hits = cache.misses, cache.hits
        # alice may not read team-b's components, which the kept page holds
        page = await get(catalog, "/entities/by-query", ALICE, **QUERY)
        assert _names(page) == ["monitor", "petstore"]
        await _until_kept(catalog, cache, "/entities/by-query", body=QUERY_BODY)
        misses, hits = cache.misses, cache.hits
        page = await post(catalog, "/entities/by-query", ALICE, QUERY_BODY)
        assert _names(page) == ["monitor", "petstore"]
        assert (await get(catalog, "/entities", "user:default/nobody", **USERS)).json() == []
        assert (cache.misses, cache.hits) == (misses, hits)


async def test_sqlite_has_no_response_cache() -> None:
    config = {"client": "better-sqlite3", "connection": ":memory:"}
    known = set(_response_cache._CACHES)
    async with started_catalog(config, config=STILL) as catalog:
        assert _names(await catalog.get("/entities/by-query", **QUERY)) == ["monitor", "petstore"]
        await _delete(catalog, PETSTORE)
        assert _names(await catalog.get("/entities/by-query", **QUERY)) == ["monitor", "website"]
        # the routes hold no cache: the one read from the config is gone
        assert set(_response_cache._CACHES) == known


def _response(size: int) -> KeptResponse:
    return KeptResponse(b"x" * size, {})


def test_the_byte_budget_holds_the_most_recently_used() -> None:
    cache = ResponseCache(100_000)
    for index in range(50):
        cache.keep(1, f"/entities?{index}", _response(10_000))
    assert cache.bytes <= 100_000
    kept = len(cache)
    assert 5 <= kept < 10
    assert "/entities?49" in cache
    assert f"/entities?{50 - kept}" in cache
    assert f"/entities?{49 - kept}" not in cache
    assert cache.get(f"/entities?{50 - kept}") is not None  # now the most recently used
    cache.keep(1, "/entities?new", _response(10_000))
    assert f"/entities?{50 - kept}" in cache
    assert f"/entities?{51 - kept}" not in cache


def test_a_response_over_half_the_budget_is_not_kept() -> None:
    cache = ResponseCache(100_000)
    cache.keep(1, "/entities?small", _response(1_000))
    cache.keep(1, "/entities?big", _response(50_000))
    assert "/entities?big" not in cache
    assert "/entities?small" in cache
    # the default keeps the list of every user of 100,000 entities (about 17 MB)
    default = ResponseCache()
    default.keep(1, "/entities?filter=kind=user", _response(17_500_000))
    assert "/entities?filter=kind=user" in default


def test_responses_of_an_older_counter_are_dropped_and_a_newer_one_empties_the_cache() -> None:
    cache = ResponseCache()
    cache.keep(5, "a", _response(1))
    cache.keep(4, "b", _response(1))
    assert "b" not in cache
    cache.observe(5)
    assert cache.get("a") is not None
    cache.keep(6, "c", _response(1))
    assert "a" not in cache
    assert "c" in cache
    assert cache.bytes == cache._entries["c"][1]


@pytest.mark.parametrize(
    ("responses", "expected"),
    [
        (None, _response_cache.DEFAULT_MAX_BYTES),
        ({"maxBytes": 1000}, 1000),
        ({"maxBytes": 0}, None),
        ({"enabled": False, "maxBytes": 1000}, None),
    ],
)
def test_config(responses: dict[str, Any] | None, expected: int | None) -> None:
    config = Config.from_data({"catalog": {"cache": {"responses": responses}}} if responses else {})
    cache = response_cache_from_config(config)
    assert (cache.max_bytes if cache is not None else None) == expected


@pytest.mark.parametrize("value", [-1, 1.5, "many", True])
def test_a_bad_budget_is_refused(value: Any) -> None:
    config = Config.from_data({"catalog": {"cache": {"responses": {"maxBytes": value}}}})
    with pytest.raises(InputError):
        response_cache_from_config(config)
