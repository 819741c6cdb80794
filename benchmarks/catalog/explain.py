"""Query plans and timings of the catalog's entity reads on a seeded Postgres database.

Seeds `--entities` stitched entities (components, APIs, groups, users with owner and
membership relations) into a fresh database of its own, runs ANALYZE, then prints
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
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import sqlalchemy as sa
from backstage_plugin_catalog_backend._tables import (
    metadata,
    refresh_state,
    refresh_state_references,
    relations,
)
from backstage_plugin_catalog_backend.api._ordering import OrderField, keyset_clause, order_by
from backstage_plugin_catalog_backend.api._queries import select_entities
from backstage_plugin_catalog_backend.stitching import stitch_entities
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

TYPES = ["service", "website", "library", "documentation", "tool", "other"]
LIFECYCLES = ["production", "experimental", "deprecated"]
TAGS = ["java", "python", "go", "react", "kafka", "postgres", "grpc", "internal"]


def _entities(
    count: int, rng: random.Random
) -> list[tuple[dict[str, Any], list[tuple[str, str, str]]]]:
    groups = max(10, count // 100)
    result = []
    for index in range(count):
        if index < groups:
            kind, name = "Group", f"team-{index}"
            spec: dict[str, Any] = {"type": "team", "children": []}
            rels: list[tuple[str, str, str]] = []
        elif index < groups * 3:
            kind, name = "User", f"user-{index}"
            team = f"group:default/team-{rng.randrange(groups)}"
            spec = {"memberOf": [team], "profile": {"displayName": f"User {index}"}}
            rels = [("memberOf", team, "self"), ("hasMember", "self", team)]
        else:
            kind = "API" if index % 5 == 0 else "Component"
            name = f"{kind.lower()}-{index}"
            team = f"group:default/team-{rng.randrange(groups)}"
            spec = {"type": rng.choice(TYPES), "lifecycle": rng.choice(LIFECYCLES), "owner": team}
            rels = [("ownedBy", team, "self"), ("ownerOf", "self", team)]
        entity = {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": kind,
            "metadata": {
                "name": name,
                "namespace": "default",
                "uid": str(uuid.uuid4()),
                "title": f"{name.replace('-', ' ').title()}",
                "tags": rng.sample(TAGS, rng.randrange(0, 3)),
                "annotations": {"backstage.io/managed-by-location": "url:https://example.com/x"},
            },
            "spec": spec,
        }
        result.append((entity, rels))
    return result


async def _seed(connection: AsyncConnection, count: int) -> list[str]:
    rng = random.Random(7)
    now = datetime.now(UTC)
    refs: list[str] = []
    state_rows, reference_rows, relation_rows = [], [], []
    for entity, rels in _entities(count, rng):
        ref = f"{entity['kind']}:default/{entity['metadata']['name']}".lower()
        text = msgspec.json.encode(entity).decode()
        uid = entity["metadata"]["uid"]
        state_rows.append(
            {
                "entity_id": uid,
                "entity_ref": ref,
                "unprocessed_entity": text,
                "processed_entity": text,
                "errors": "",
                "next_update_at": now,
                "last_discovery_at": now,
            }
        )
        reference_rows.append({"source_key": "bench", "target_entity_ref": ref})
        for kind, source, target in rels:
            relation_rows.append(
                {
                    "originating_entity_id": uid,
                    "source_entity_ref": ref if source == "self" else source,
                    "type": kind,
                    "target_entity_ref": ref if target == "self" else target,
                }
            )
        refs.append(ref)
    for table, rows in (
        (refresh_state, state_rows),
        (refresh_state_references, reference_rows),
        (relations, relation_rows),
    ):
        for start in range(0, len(rows), 5000):
            await connection.execute(sa.insert(table), rows[start : start + 5000])
    await stitch_entities(connection, refs)
    return refs


async def _explain(connection: AsyncConnection, title: str, statement: Any, summary: bool) -> None:
    compiled = statement.compile(
        dialect=postgresql.asyncpg.dialect(), compile_kwargs={"render_postcompile": True}
    )
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
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
    first = (
        sa.select(entities.table)
        .order_by(*order_by(entities.sort_columns, backwards=False))
        .limit(21)
    )
    await _explain(
        connection, "by-query, two-key filter, orderField=metadata.name, limit 20", first, summary
    )
    rows = (await connection.execute(first)).all()
    cursor_page = first.where(
        keyset_clause(entities.sort_columns, entities.sort_values(rows[-1]), backwards=False)
    )
    await _explain(connection, "by-query cursor page (keyset)", cursor_page, summary)
    unordered = select_entities([], predicate=two_keys)
    await _explain(
        connection,
        "by-query, two-key filter, no order, limit 20",
        sa.select(unordered.table)
        .order_by(*order_by(unordered.sort_columns, backwards=False))
        .limit(21),
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
    stream = select_entities([], predicate=None)
    await _explain(
        connection,
        "GET /entities stream, first chunk of 1000",
        sa.select(stream.table)
        .order_by(*order_by(stream.sort_columns, backwards=False))
        .limit(1000),
        summary,
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
        started = time.perf_counter()
        async with engine.begin() as connection:
            refs = await _seed(connection, args.entities)
        print(f"seeded {args.entities} entities in {time.perf_counter() - started:.1f} s")
        async with engine.connect() as connection:
            await connection.execute(sa.text("ANALYZE"))
            count = (await connection.execute(sa.text("SELECT count(*) FROM search"))).scalar()
            print(f"search rows: {count}")
            await _plans(connection, refs, args.summary)
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
