"""Many rows in one statement on Postgres: the rows go as one array per column through
`unnest`. An executemany of a plain INSERT or UPDATE runs its statement once per row
(asyncpg binds and executes each row in turn: 65,000 executions for the relations of
10,000 entities); one statement over arrays parses and plans once and inserts them all.
Other databases take the rows as an executemany."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["insert_rows", "update_rows"]


def _array_type(column: sa.Column[Any]) -> str:
    if isinstance(column.type, sa.DateTime):
        return "timestamptz[]"
    if isinstance(column.type, sa.Integer):
        return "bigint[]"
    return "text[]"


def _unnest(table: sa.Table, names: Sequence[str]) -> str:
    """`unnest(...) AS u(<names>)`, one bound array per column (`:a_<name>`)."""
    arrays = ", ".join(f"CAST(:a_{name} AS {_array_type(table.c[name])})" for name in names)
    return f"unnest({arrays}) AS u({', '.join(names)})"


def _arrays(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    return {f"a_{name}": [row[name] for row in rows] for name in names}


async def insert_rows(
    connection: AsyncConnection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    on_conflict: str = "",
    fallback: sa.Executable | None = None,
) -> None:
    """Insert `rows` (each with the same keys, column names of `table`) in their order.

    On Postgres, `on_conflict` follows the INSERT as it is (`ON CONFLICT (...) DO ...`);
    elsewhere the rows are an executemany of `fallback` (the same insert and conflict
    clause built by SQLAlchemy), or of a plain insert."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        await connection.execute(fallback if fallback is not None else sa.insert(table), rows)
        return
    names = list(rows[0])
    statement = sa.text(
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"SELECT {', '.join(f'u.{name}' for name in names)} FROM {_unnest(table, names)} "
        f"{on_conflict}"
    )
    await connection.execute(statement, _arrays(rows, names))


async def update_rows(
    connection: AsyncConnection,
    table: sa.Table,
    key: str,
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Set the other columns of each row (keys: column names of `table`) where its `key`
    column matches; each key value appears once in `rows`."""
    if not rows:
        return
    names = list(rows[0])
    if connection.dialect.name != "postgresql":
        update = (
            sa.update(table)
            .where(table.c[key] == sa.bindparam(f"b_{key}"))
            .values({name: sa.bindparam(f"b_{name}") for name in names if name != key})
        )
        await connection.execute(
            update, [{f"b_{name}": row[name] for name in names} for row in rows]
        )
        return
    assignments = ", ".join(f"{name} = u.{name}" for name in names if name != key)
    statement = sa.text(
        f"UPDATE {table.name} AS t SET {assignments} FROM {_unnest(table, names)} "
        f"WHERE t.{key} = u.{key}"
    )
    await connection.execute(statement, _arrays(rows, names))
