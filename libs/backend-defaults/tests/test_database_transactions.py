"""The database service's write transactions and migrations, as plugins reach them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from backstage_backend_defaults.database import DatabaseManager
from backstage_backend_defaults.scheduler._settings import TaskSettings
from backstage_backend_defaults.scheduler._store import TaskStore
from backstage_backend_defaults.scheduler._table import ensure_tasks_table
from backstage_backend_test_utils import SAMPLE_MIGRATIONS
from backstage_common.config import Config
from sqlalchemy import event, text

MIGRATIONS = SAMPLE_MIGRATIONS
BOUND_SECONDS = 30  # generous: only proves that nothing waits forever


def manager_for(database: dict[str, Any]) -> DatabaseManager:
    return DatabaseManager(Config.from_data({"backend": {"database": database}}))


async def _create_items(manager: DatabaseManager) -> None:
    async with manager.for_plugin("catalog").transaction() as connection:
        await connection.execute(text("CREATE TABLE items (name TEXT)"))


async def _items(manager: DatabaseManager) -> list[str]:
    engine = await manager.for_plugin("catalog").get_engine()
    async with engine.connect() as connection:
        return [row[0] for row in await connection.execute(text("SELECT name FROM items"))]


@pytest.mark.parametrize("purposes", [("requests", "requests"), ("requests", "background")])
async def test_sqlite_writers_of_one_plugin_take_turns(
    tmp_path: Path, purposes: tuple[Any, Any]
) -> None:
    # two services of the same plugin (say the plugin itself and its scheduler), each with
    # its own handle on the database: their transactions must not overlap
    manager = manager_for({"client": "sqlite3", "connection": {"directory": str(tmp_path)}})
    order: list[str] = []
    first_in = asyncio.Event()

    async def first() -> None:
        async with manager.for_plugin("catalog").transaction(purpose=purposes[0]) as connection:
            order.append("first in")
            first_in.set()
            await connection.execute(text("INSERT INTO items VALUES ('first')"))
            await asyncio.sleep(0.3)  # room for the second writer to barge in, if it could
            order.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with manager.for_plugin("catalog").transaction(purpose=purposes[1]) as connection:
            order.append("second in")
            await connection.execute(text("INSERT INTO items VALUES ('second')"))

    try:
        await _create_items(manager)
        await asyncio.wait_for(asyncio.gather(first(), second()), BOUND_SECONDS)
        assert order == ["first in", "first out", "second in"]
        assert sorted(await _items(manager)) == ["first", "second"]
    finally:
        await manager.close()


async def test_sqlite_plugins_do_not_wait_for_each_other(tmp_path: Path) -> None:
    manager = manager_for({"client": "sqlite3", "connection": {"directory": str(tmp_path)}})

    async def both() -> None:
        # another plugin's database is another file: its writer goes ahead meanwhile
        async with (
            manager.for_plugin("catalog").transaction(),
            manager.for_plugin("search").transaction() as connection,
        ):
            await connection.execute(text("CREATE TABLE other (name TEXT)"))

    try:
        await asyncio.wait_for(both(), BOUND_SECONDS)
    finally:
        await manager.close()


async def test_a_transaction_that_raises_leaves_nothing_behind() -> None:
    manager = manager_for({"client": "better-sqlite3", "connection": ":memory:"})
    try:
        await _create_items(manager)

        async def fail_half_way() -> None:
            async with manager.for_plugin("catalog").transaction() as connection:
                await connection.execute(text("INSERT INTO items VALUES ('lost')"))
                raise RuntimeError("half-way")

        with pytest.raises(RuntimeError):
            await fail_half_way()
        async with manager.for_plugin("catalog").transaction() as connection:
            await connection.execute(text("INSERT INTO items VALUES ('kept')"))
        assert await _items(manager) == ["kept"]
    finally:
        await manager.close()


async def test_postgres_writers_run_concurrently(postgres: tuple[dict[str, Any], str]) -> None:
    connection, prefix = postgres
    manager = manager_for({"client": "pg", "connection": connection, "prefix": prefix})
    first_in, second_in = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with manager.for_plugin("catalog").transaction():
            first_in.set()
            await second_in.wait()  # hangs if writers were serialised

    async def second() -> None:
        await first_in.wait()
        async with manager.for_plugin("catalog").transaction(purpose="background"):
            second_in.set()

    try:
        await asyncio.wait_for(asyncio.gather(first(), second()), BOUND_SECONDS)
    finally:
        await manager.close()


async def test_migrate_upgrades_the_plugins_own_database() -> None:
    manager = manager_for({"client": "better-sqlite3", "connection": ":memory:"})
    try:
        assert await manager.for_plugin("catalog").migrate(MIGRATIONS) is True
        engine = await manager.for_plugin("catalog").get_engine()
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT revision FROM migration_runs ORDER BY 1"))
            assert [row[0] for row in rows] == ["0001", "0002"]
        assert await manager.for_plugin("catalog").migrate(MIGRATIONS) is True  # nothing to do
        search = await manager.for_plugin("search").get_engine()
        async with search.connect() as connection:
            tables = await connection.execute(text("SELECT name FROM sqlite_master"))
            assert [row[0] for row in tables] == []
    finally:
        await manager.close()


async def test_migrate_does_nothing_when_migrations_are_skipped() -> None:
    manager = manager_for(
        {"client": "better-sqlite3", "connection": ":memory:", "skipMigrations": True}
    )
    try:
        assert await manager.for_plugin("catalog").migrate(MIGRATIONS) is False
        engine = await manager.for_plugin("catalog").get_engine()
        async with engine.connect() as connection:
            tables = await connection.execute(text("SELECT name FROM sqlite_master"))
            assert [row[0] for row in tables] == []
    finally:
        await manager.close()


async def test_sqlite_the_scheduler_takes_its_turn_with_the_plugins_writers(
    tmp_path: Path,
) -> None:
    # SQLite would make the second writer wait anyway (its busy timeout); what is shown
    # here is that the scheduler's transaction does not even begin before the plugin's ends
    manager = manager_for({"client": "sqlite3", "connection": {"directory": str(tmp_path)}})
    transactions: list[str] = []
    plugin_in = asyncio.Event()

    async def plugin_writes() -> None:
        async with manager.for_plugin("catalog").transaction(purpose="background") as connection:
            plugin_in.set()
            await connection.execute(text("INSERT INTO items VALUES ('entity')"))
            await asyncio.sleep(0.3)  # room for the scheduler to barge in, if it could

    async def scheduler_writes(store: TaskStore) -> None:
        await plugin_in.wait()
        await store.register("refresh", TaskSettings("PT1M", timedelta(seconds=30)))

    try:
        await _create_items(manager)
        engine = await manager.for_plugin("catalog").get_engine()
        await ensure_tasks_table(engine)
        store = TaskStore(manager.for_plugin("catalog"), postgres=False)
        event.listen(engine.sync_engine, "begin", lambda _: transactions.append("begin"))
        event.listen(engine.sync_engine, "commit", lambda _: transactions.append("commit"))
        await asyncio.wait_for(
            asyncio.gather(plugin_writes(), scheduler_writes(store)), BOUND_SECONDS
        )
        assert transactions == ["begin", "commit", "begin", "commit"]
        assert "refresh" in await store.task_states()
    finally:
        await manager.close()
