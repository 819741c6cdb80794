"""Entity facets are counted once per state of the catalog: identical requests reuse or share
one count, and no request that starts after a write has committed sees counts from before."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from backstage_plugin_catalog_backend._tables import final_entities, search
from backstage_plugin_catalog_backend.api import _facet_counts

from .conftest import seed_processed
from .sample_catalog import Catalog, started_catalog
from .test_entities_by_query import recorded_statements

_LIFECYCLES = {"facet": "spec.lifecycle", "filter": "kind=component"}


def _component(name: str, lifecycle: str) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "service", "lifecycle": lifecycle, "owner": "team-a"},
    }


async def _lifecycles(catalog: Catalog) -> dict[str, int]:
    response = await catalog.get("/entity-facets", **_LIFECYCLES)
    assert response.status_code == 200, response.text
    return {f["value"]: f["count"] for f in response.json()["facets"]["spec.lifecycle"]}


def _counts(statements: list[str]) -> int:
    return sum("group by" in statement for statement in statements)


async def _counter(catalog: Catalog) -> int:
    async with catalog.engine.connect() as connection:
        return await _facet_counts._counter(connection)


async def test_counts_follow_every_write_at_once(database_config: dict[str, Any]) -> None:
    async with started_catalog(database_config) as catalog:
        before = await _lifecycles(catalog)
        assert await _lifecycles(catalog) == before
        await seed_processed(catalog.engine, [_component("new-one", "sunset")])
        assert (await _lifecycles(catalog)).get("sunset") == before.get("sunset", 0) + 1
        async with catalog.engine.begin() as connection:
            await connection.execute(
                sa.delete(final_entities).where(
                    final_entities.c.entity_ref == "component:default/new-one"
                )
            )
        assert await _lifecycles(catalog) == before


async def test_identical_requests_share_one_count_until_a_write(
    postgres_config: dict[str, Any],
) -> None:
    async with started_catalog(postgres_config) as catalog:
        with recorded_statements(catalog.engine) as statements:
            first = await _lifecycles(catalog)
            assert _counts(statements) == 1
            # repeated and concurrent requests: no other count
            results = await asyncio.gather(*(_lifecycles(catalog) for _ in range(8)))
            assert results == [first] * 8
            assert _counts(statements) == 1
            # another filter or facet is another count
            await catalog.get("/entity-facets", facet="spec.lifecycle", filter="kind=api")
            assert _counts(statements) == 2
            await seed_processed(catalog.engine, [_component("new-one", "experimental")])
            changed = await _lifecycles(catalog)
            assert changed["experimental"] == first.get("experimental", 0) + 1
            assert _counts(statements) == 3


async def test_concurrent_requests_start_one_count(postgres_config: dict[str, Any]) -> None:
    async with started_catalog(postgres_config) as catalog:
        with recorded_statements(catalog.engine) as statements:
            results = await asyncio.gather(*(_lifecycles(catalog) for _ in range(8)))
            assert all(result == results[0] for result in results)
            assert _counts(statements) == 1


async def test_a_count_read_while_something_is_written_is_not_kept(
    postgres_config: dict[str, Any], monkeypatch: Any
) -> None:
    async with started_catalog(postgres_config) as catalog:
        count = _facet_counts.entity_facets

        async def count_while_writing(*args: Any) -> Any:
            rows = await count(*args)
            async with catalog.engine.begin() as other:
                await other.execute(sa.update(search).where(sa.false()).values(value="x"))
            return rows

        with recorded_statements(catalog.engine) as statements:
            monkeypatch.setattr(_facet_counts, "entity_facets", count_while_writing)
            await _lifecycles(catalog)
            await _lifecycles(catalog)
            assert _counts(statements) == 2
            monkeypatch.undo()
            await _lifecycles(catalog)
            await _lifecycles(catalog)
            assert _counts(statements) == 3


async def test_the_counter_moves_on_each_write_statement_only(
    postgres_config: dict[str, Any],
) -> None:
    async with started_catalog(postgres_config) as catalog:
        start = await _counter(catalog)
        await _lifecycles(catalog)
        await catalog.get("/entities/by-query", filter="kind=component")
        assert await _counter(catalog) == start
        async with catalog.engine.begin() as connection:
            await connection.execute(
                sa.update(final_entities).values(last_updated_at=sa.func.now())
            )
            await connection.execute(sa.update(search).where(sa.false()).values(value="x"))
        assert await _counter(catalog) == start + 2


async def test_a_count_beside_an_open_write_is_not_kept(postgres_config: dict[str, Any]) -> None:
    """A write that moved the counter before the count and commits after it: the count does
    not see it and the counter does not move again, so only the writer's lock tells."""
    async with started_catalog(postgres_config) as catalog:
        before = await _lifecycles(catalog)
        assert before
        assert "retired" not in before
        async with catalog.engine.connect() as writer:
            transaction = await writer.begin()
            await writer.execute(
                sa.update(search)
                .where(search.c.key == "spec.lifecycle")
                .values(value="retired", original_value="retired")
            )
            assert await _lifecycles(catalog) == before  # the write is not committed yet
            await transaction.commit()
        after = await _lifecycles(catalog)
        assert after == {"retired": sum(before.values())}


async def _settle() -> None:
    """Let the tasks started so far run until they wait."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_requests_waiting_for_the_counter_share_the_next_read() -> None:
    """At most one counter read is in flight; the requests that arrive meanwhile share the
    next one, sent after they all arrived, so none gets a value read before it started."""
    sent: list[asyncio.Event] = []
    values = iter(range(1, 100))

    async def read() -> int:
        answer = asyncio.Event()
        sent.append(answer)
        value = next(values)  # the counter as it stands when the read is sent
        await answer.wait()
        return value

    reads = _facet_counts._SharedCounterReads(read)
    first = asyncio.create_task(reads.read())
    await _settle()
    assert len(sent) == 1
    # arrive while the first read is in flight: they wait for the next one
    later = [asyncio.create_task(reads.read()) for _ in range(5)]
    await _settle()
    assert len(sent) == 1
    sent[0].set()
    assert await first == 1
    await _settle()
    assert len(sent) == 2  # one read for the five
    # a request arriving after the second read was sent waits for a third
    last = asyncio.create_task(reads.read())
    sent[1].set()
    assert await asyncio.gather(*later) == [2] * 5
    await _settle()
    assert len(sent) == 3
    sent[2].set()
    assert await last == 3


async def test_a_failed_counter_read_fails_its_requests_and_not_the_next() -> None:
    calls = 0

    async def read() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database gone")
        return 7

    reads = _facet_counts._SharedCounterReads(read)
    try:
        await reads.read()
    except ConnectionError:
        pass
    else:
        raise AssertionError("the failed read's request did not fail")
    assert await reads.read() == 7
