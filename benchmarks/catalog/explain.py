"""Query plans and timings of the catalog's entity reads on a seeded Postgres database.

Seeds `--entities` stitched entities (components, APIs, groups, users with owner and
membership relations) into a fresh database of its own, runs VACUUM ANALYZE, then prints
`EXPLAIN (ANALYZE, BUFFERS)` for the statements the API builds: by-query with a two-key
filter (first page and a cursor page), facets with and without a filter, by-refs for 200
refs, and the first chunk of the streamed GET /entities. The database is dropped at the end.

Run: `uv run python benchmarks/catalog/explain.py [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
[--entities 20000] [--summary]` (`--summary` prints only the plan lines naming scans).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from typing import Any

import asyncpg
import sqlalchemy as sa
from _seed import seed
from backstage_plugin_catalog_backend._tables import metadata
from backstage_plugin_catalog_backend.api._ordering import OrderField
from backstage_plugin_catalog_backend.api._queries import select_entities
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine


async def _explain(connection: AsyncConnection, title: str, statement: Any, summary: bool) -> None:
    """EXPLAIN a statement, or a (statement, parameters) pair as `EntitySelect.page` gives."""
    statement, bound = statement if isinstance(statement, tuple) else (statement, {})
    compiled = statement.compile(
        dialect=postgresql.asyncpg.dialect(), compile_kwargs={"render_postcompile": True}
    )
    values = compiled.construct_params(bound)
    params = tuple(values[name] for name in compiled.positiontup or ())
    started = time.perf_counter()
    rows = (
        await connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + compiled.string, params)
    ).all()
    elapsed = (time.perf_counter() - started) * 1000
    print(f"\n=== {title} ({elapsed:.1f} ms with EXPLAIN ANALYZE)")
    for (line,) in rows:
        if not summary or any(w in line for w in ("Scan", "Execution Time", "Join", "Sort")):
            print(line)


async def _plans(connection: AsyncConnection, refs: list[str], summary: bool) -> None:
    two_keys = {"kind": "component", "spec.lifecycle": "production"}
    by_name = [OrderField("metadata.name", "asc")]
    entities = select_entities(by_name, predicate=two_keys, require_first=True)
    first = entities.page(limit=21)
    await _explain(
        connection, "by-query, two-key filter, orderField=metadata.name, limit 20", first, summary
    )
    rows = (await connection.execute(*first)).all()
    cursor_page = entities.page(entities.sort_values(rows[-1]), limit=21)
    await _explain(connection, "by-query cursor page (keyset)", cursor_page, summary)
    unordered = select_entities([], predicate=two_keys)
    first = unordered.page(limit=101)
    await _explain(connection, "by-query, two-key filter, no order, limit 100", first, summary)
    rows = (await connection.execute(*first)).all()
    await _explain(
        connection,
        "by-query, two-key filter, no order, cursor page",
        unordered.page(unordered.sort_values(rows[-1]), limit=101),
        summary,
    )
    from backstage_plugin_catalog_backend.api import _queries

    captured: list[Any] = []

    class _Capture:
        dialect = connection.dialect

        async def execute(self, statement: Any) -> Any:
            captured.append(statement)
            return _Empty()

    class _Empty(list[Any]):
        def scalar_one(self) -> int:
            return 0

    capture: Any = _Capture()
    await _queries.entity_facets(capture, ["kind", "spec.type", "metadata.tags"], None)
    await _queries.entity_facets(capture, ["spec.type", "spec.lifecycle"], {"kind": "component"})
    await _queries.entities_by_refs(capture, random.Random(3).sample(refs, 200), None)
    await _queries.count_entities(capture, predicate=two_keys, full_text=None, required_key=None)
    titles = [
        "facets kind, spec.type, metadata.tags (no filter)",
        "facets spec.type, spec.lifecycle, filter kind=component",
        "by-refs, 200 refs",
        "totalItems count, two-key filter",
    ]
    for title, statement in zip(titles, captured, strict=True):
        await _explain(connection, title, statement, summary)
    stream = select_entities([], predicate=None, tie_breaker="entity_ref")
    await _explain(
        connection, "GET /entities stream, first chunk of 1000", stream.page(limit=1000), summary
    )
    users = select_entities([], predicate={"kind": "user"}, tie_breaker="entity_ref")
    await _explain(
        connection, "GET /entities?filter=kind=user, first chunk", users.page(limit=1000), summary
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--entities", type=int, default=20000)
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args()
    name = f"bench_catalog_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = args.postgres.rsplit("/", 1)[0]
    engine = create_async_engine(f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            # what the plugin's migration adds beside the tables
            await connection.execute(
                sa.text("CREATE STATISTICS search_key_value_stats (mcv) ON key, value FROM search")
            )
        started = time.perf_counter()
        async with engine.begin() as connection:
            refs = await seed(connection, args.entities)
        print(f"seeded {args.entities} entities in {time.perf_counter() - started:.1f} s")
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(sa.text("VACUUM ANALYZE"))
        async with engine.connect() as connection:
            count = (await connection.execute(sa.text("SELECT count(*) FROM search"))).scalar()
            print(f"search rows: {count}")
            await _plans(connection, refs, args.summary)
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
