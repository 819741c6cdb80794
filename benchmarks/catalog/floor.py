"""The floor of ingestion: how long Postgres alone needs to write the rows of an ingestion.

1. Runs ours on the catalog (`compare.py`'s measurement: registration, ingestion, a short
   by-name read), and once its server has stopped, copies its catalog database (the rows
   of the finished ingestion) as a template.
2. Writes those rows again into an empty copy of the schema (every index in place), timed,
   two ways:
   - `copy_s`, the best case: one transaction, one COPY per table;
   - `batched_s`, the catalog's transaction sizes without its reads or its Python: the
     children of the locations inserted into `refresh_state` and `refresh_state_references`
     2,000 a transaction; then per 100 entities (a processing batch) one transaction that
     stores the processed entities, inserts their relations and refresh keys and queues
     their stitches; then per 200 entities (a stitch batch) one transaction that inserts
     the final entities and their search rows and clears their stitches. Every statement
     takes its rows as arrays (`unnest`), 500 rows at most, as the catalog's do.
3. Prints one JSON line: our ingestion (`ingest_s`, the server's CPU over it), the floors,
   the rows per table, `ingest_over_batched` (how far ingestion is above the floor), and
   `ingestion`: per table, the rows the ingestion inserted, updated and deleted and the
   sequential scans it needed (Postgres's counters of its database).

Run (the same options as `compare.py`; ours alone, Postgres):
  uv run python benchmarks/catalog/floor.py --catalog "$CATALOG"   # a folder of generate.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import compare
from backstage_plugin_catalog_backend._tables import metadata

# Parents before children (the order the rows can be inserted in); the stitch queue is
# empty once an ingestion is done.
TABLES = tuple(table.name for table in metadata.sorted_tables if table.name != "stitch_queue")
CHILDREN_PER_WRITE = 2_000
PROCESSING_BATCH = 100
STITCH_BATCH = 200
ROWS_PER_STATEMENT = 500

Rows = list[tuple[Any, ...]]


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class Schema:
    """The columns (without generated ids) and their Postgres types of each table."""

    def __init__(self, columns: dict[str, list[tuple[str, str]]]) -> None:
        self.columns = columns

    @classmethod
    async def read(cls, connection: asyncpg.Connection) -> Schema:
        # Generated ids (a serial's nextval default) are left to the database.
        rows = await connection.fetch(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
            "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE n.nspname = 'public' AND c.relname = ANY($1::text[]) AND a.attnum > 0 "
            "AND NOT a.attisdropped AND a.attidentity = '' "
            "AND coalesce(pg_get_expr(d.adbin, d.adrelid), '') NOT LIKE 'nextval(%' "
            "ORDER BY c.relname, a.attnum",
            list(TABLES),
        )
        columns: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for table, column, type_ in rows:
            columns[table].append((column, type_))
        return cls(dict(columns))

    def names(self, table: str) -> list[str]:
        return [name for name, _ in self.columns[table]]

    def insert(self, table: str) -> str:
        """`INSERT ... SELECT FROM unnest(...)`: one statement for any number of rows."""
        names = ", ".join(quoted(name) for name, _ in self.columns[table])
        arrays = ", ".join(
            f"${index}::{type_}[]" for index, (_, type_) in enumerate(self.columns[table], 1)
        )
        return f"INSERT INTO {quoted(table)} ({names}) SELECT * FROM unnest({arrays})"


async def read_rows(connection: asyncpg.Connection, schema: Schema) -> dict[str, Rows]:
    rows: dict[str, Rows] = {}
    for table in TABLES:
        names = ", ".join(quoted(name) for name in schema.names(table))
        rows[table] = [tuple(row) for row in await connection.fetch(f"SELECT {names} FROM {table}")]
    return rows


async def empty(connection: asyncpg.Connection) -> None:
    tables = ", ".join(quoted(table) for table in (*TABLES, "stitch_queue"))
    await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


async def timed(work: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def copy_all(connection: asyncpg.Connection, schema: Schema, rows: dict[str, Rows]) -> None:
    async with connection.transaction():
        for table in TABLES:
            await connection.copy_records_to_table(
                table, records=rows[table], columns=schema.names(table)
            )


async def insert(
    connection: asyncpg.Connection, schema: Schema, table: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    statement = schema.insert(table)
    for part in chunks(rows, ROWS_PER_STATEMENT):
        await connection.execute(statement, *(list(column) for column in zip(*part, strict=True)))


def by_column(schema: Schema, table: str, rows: Rows, column: str) -> dict[Any, Rows]:
    index = schema.names(table).index(column)
    grouped: dict[Any, Rows] = defaultdict(list)
    for row in rows:
        grouped[row[index]].append(row)
    return grouped


def depths(schema: Schema, references: dict[Any, Rows]) -> Callable[[tuple[Any, ...]], int]:
    """A sort key of `refresh_state` rows: parents before the children they emitted (the
    order the catalog inserts them in, which the foreign keys of the references need)."""
    source_at = schema.names("refresh_state_references").index("source_entity_ref")
    ref_at = schema.names("refresh_state").index("entity_ref")
    known: dict[str, int] = {}

    def depth(ref: str) -> int:
        if ref not in known:
            known[ref] = 0  # a cycle stops here
            parents = [row[source_at] for row in references.get(ref, []) if row[source_at]]
            known[ref] = 1 + max((depth(parent) for parent in parents), default=-1)
        return known[ref]

    return lambda row: depth(row[ref_at])


async def write_batched(
    connection: asyncpg.Connection, schema: Schema, rows: dict[str, Rows]
) -> None:
    names = schema.names("refresh_state")
    processed_at = [names.index(c) for c in ("processed_entity", "result_hash", "errors")]
    id_at, ref_at = names.index("entity_id"), names.index("entity_ref")
    references = by_column(
        schema, "refresh_state_references", rows["refresh_state_references"], "target_entity_ref"
    )
    states = sorted(rows["refresh_state"], key=depths(schema, references))
    # What the children's insert writes: the entity as read, not yet processed.
    unprocessed = [
        tuple(None if i in processed_at[:2] else value for i, value in enumerate(row))
        for row in states
    ]
    async with connection.transaction():
        await insert(connection, schema, "locations", rows["locations"])
    for part in chunks(unprocessed, CHILDREN_PER_WRITE):
        async with connection.transaction():
            await insert(connection, schema, "refresh_state", part)
            refs = [row for state in part for row in references.get(state[ref_at], [])]
            await insert(connection, schema, "refresh_state_references", refs)
    relations = by_column(schema, "relations", rows["relations"], "originating_entity_id")
    keys = by_column(schema, "refresh_keys", rows["refresh_keys"], "entity_id")
    update = (
        "UPDATE refresh_state AS s SET processed_entity = u.p, result_hash = u.h, errors = u.e "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(id, p, h, e) "
        "WHERE s.entity_id = u.id"
    )
    enqueue = (
        "INSERT INTO stitch_queue (entity_ref, stitch_ticket, next_stitch_at) "
        "SELECT r, 't', now() FROM unnest($1::text[]) AS r ON CONFLICT (entity_ref) "
        "DO UPDATE SET stitch_ticket = excluded.stitch_ticket, "
        "next_stitch_at = excluded.next_stitch_at"
    )
    for part in chunks(states, PROCESSING_BATCH):
        async with connection.transaction():
            await connection.execute(
                update,
                [row[id_at] for row in part],
                *([row[i] for row in part] for i in processed_at),
            )
            ids = [row[id_at] for row in part]
            await insert(connection, schema, "relations", [r for i in ids for r in relations[i]])
            await insert(connection, schema, "refresh_keys", [r for i in ids for r in keys[i]])
            await connection.execute(enqueue, [row[ref_at] for row in part])
    finals = rows["final_entities"]
    search = by_column(schema, "search", rows["search"], "entity_id")
    final_names = schema.names("final_entities")
    final_id, final_ref = final_names.index("entity_id"), final_names.index("entity_ref")
    for part in chunks(finals, STITCH_BATCH):
        async with connection.transaction():
            await insert(connection, schema, "final_entities", part)
            await insert(
                connection, schema, "search", [r for row in part for r in search[row[final_id]]]
            )
            await connection.execute(
                "DELETE FROM stitch_queue WHERE entity_ref = ANY($1::text[])",
                [row[final_ref] for row in part],
            )


async def table_activity(url: str) -> dict[str, dict[str, int]]:
    """What the ingestion did to each table (Postgres's counters of the database, complete
    once its server's connections have closed): rows inserted, updated and deleted, and the
    sequential scans its statements needed."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, seq_scan FROM pg_stat_user_tables "
            "WHERE relname = ANY($1::text[]) ORDER BY relname",
            [*TABLES, "stitch_queue"],
        )
    finally:
        await connection.close()
    return {
        row["relname"]: {
            "inserted": row["n_tup_ins"],
            "updated": row["n_tup_upd"],
            "deleted": row["n_tup_del"],
            "seq_scans": row["seq_scan"],
        }
        for row in rows
    }


async def floors(url: str, source: str) -> dict[str, Any]:
    """Copies `source` (a finished ingestion's catalog database) and times writing its
    rows into the copy (`timed_writes`); the copy is dropped after."""
    target = f"{source}_floor"
    base = url.rsplit("/", 1)[0]
    activity = await table_activity(f"{base}/{source}")
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f"CREATE DATABASE {quoted(target)} TEMPLATE {quoted(source)}")
        return {**await timed_writes(f"{base}/{target}"), "ingestion": activity}
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {quoted(target)} WITH (FORCE)")
        await admin.close()


async def timed_writes(url: str) -> dict[str, Any]:
    """Reads every row of the catalog database at `url`, then empties it and writes them
    again, each way twice; the best of the two is the figure."""
    connection = await asyncpg.connect(url)
    try:
        schema = await Schema.read(connection)
        rows = await read_rows(connection, schema)
        figures: dict[str, list[float]] = {"copy_s": [], "batched_s": []}
        for _ in range(2):
            await empty(connection)
            figures["copy_s"].append(await timed(lambda: copy_all(connection, schema, rows)))
            await empty(connection)
            figures["batched_s"].append(
                await timed(lambda: write_batched(connection, schema, rows))
            )
    finally:
        await connection.close()
    return {
        **{name: round(min(times), 2) for name, times in figures.items()},
        "runs": {name: [round(t, 2) for t in times] for name, times in figures.items()},
        "rows": {table: len(rows[table]) for table in TABLES},
    }


def main(argv: Sequence[str] | None = None) -> int:
    options = compare.parse_options(argv)
    if options.db != "postgres" or options.only == "backstage":
        compare.progress("floor.py measures ours on Postgres")
        return 2
    options.workloads = options.workloads or "by_name"
    workdir = Path(tempfile.mkdtemp(prefix="catalog-floor-"))
    catalog = compare.generated_catalog(options, workdir)
    floor: dict[str, Any] = {}

    def measure_floor(prefix: str) -> None:
        compare.progress("ours stopped; writing its rows again")
        floor.update(asyncio.run(floors(options.postgres_url, f"{prefix}catalog")))

    with compare.static_server(catalog) as static_port:
        ours = compare.measure("ours", options, catalog, static_port, workdir, measure_floor)
    result = {
        "entities": json.loads((catalog / "manifest.json").read_text())["entities"],
        "ingest_s": ours.get("ingest_s"),
        "ingest_server_cpu_s": ours.get("ingest_server_cpu_s"),
        **floor,
        "ingest_over_batched": compare.ratio(ours.get("ingest_s"), floor.get("batched_s")),
    }
    print(json.dumps(result, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
