"""A logical database per plugin: SQLite in memory or files, Postgres databases or schemas."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from backstage_backend_defaults.database import DatabaseManager, migration_history, run_migrations
from backstage_backend_test_utils import SAMPLE_MIGRATIONS
from backstage_common.config import Config
from backstage_common.errors import InputError, ServiceUnavailableError
from sqlalchemy import inspect, text


def file_names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def manager_for(database: dict[str, Any]) -> DatabaseManager:
    return DatabaseManager(Config.from_data({"backend": {"database": database}}))


async def same_table_in_two_plugins(manager: DatabaseManager) -> tuple[list[Any], list[Any]]:
    """Both plugins create `items`; each sees only its own row."""
    results = []
    for plugin_id in ("catalog", "search"):
        engine = await manager.for_plugin(plugin_id).get_engine()
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE IF NOT EXISTS items (name TEXT)"))
            await connection.execute(text("INSERT INTO items VALUES (:n)"), {"n": plugin_id})
    for plugin_id in ("catalog", "search"):
        engine = await manager.for_plugin(plugin_id).get_engine()
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT name FROM items"))).all()
            results.append([row[0] for row in rows])
    return results[0], results[1]


async def test_sqlite_in_memory_gives_each_plugin_its_own_database() -> None:
    manager = manager_for({"client": "better-sqlite3", "connection": ":memory:"})
    try:
        assert await same_table_in_two_plugins(manager) == (["catalog"], ["search"])
        # the same engine (and in-memory database) lives as long as the backend
        engine = await manager.for_plugin("catalog").get_engine()
        assert engine is await manager.for_plugin("catalog").get_engine()
    finally:
        await manager.close()


async def test_sqlite_directory_gives_one_file_per_plugin(tmp_path: Path) -> None:
    manager = manager_for({"client": "sqlite3", "connection": {"directory": str(tmp_path)}})
    try:
        assert await same_table_in_two_plugins(manager) == (["catalog"], ["search"])
    finally:
        await manager.close()
    assert file_names(tmp_path) == ["catalog.sqlite", "search.sqlite"]


async def test_no_database_section_is_sqlite_in_memory_and_skip_migrations_is_read() -> None:
    manager = DatabaseManager(
        Config.from_data(
            {"backend": {"database": {"plugin": {"search": {"skipMigrations": True}}}}}
        )
    )
    assert manager.for_plugin("catalog").settings.client == "sqlite"
    assert manager.for_plugin("catalog").migrations.skip is False
    assert manager.for_plugin("search").migrations.skip is True


def pg_manager(connection: dict[str, Any], prefix: str) -> DatabaseManager:
    return manager_for({"client": "pg", "connection": connection, "prefix": prefix})


async def databases_with_prefix(connection: dict[str, Any], prefix: str) -> list[str]:
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
    finally:
        await admin.close()
    return sorted(row[0] for row in rows)


async def test_postgres_database_mode_creates_one_database_per_plugin(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    manager = pg_manager(connection, prefix)
    try:
        assert await same_table_in_two_plugins(manager) == (["catalog"], ["search"])
    finally:
        await manager.close()
    assert await databases_with_prefix(connection, prefix) == [
        f"{prefix}catalog",
        f"{prefix}search",
    ]


async def test_postgres_database_creation_is_race_free(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    # several replicas starting at once all ensure the same plugin database
    managers = [pg_manager(connection, prefix) for _ in range(4)]
    try:
        engines = await asyncio.gather(*(m.for_plugin("catalog").get_engine() for m in managers))
        for engine in engines:
            async with engine.connect() as connection_:
                assert (await connection_.execute(text("SELECT 1"))).scalar() == 1
    finally:
        for manager in managers:
            await manager.close()


async def test_postgres_schema_mode_gives_each_plugin_a_schema(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    shared = f"{prefix}shared"
    admin = await asyncpg.connect(database="postgres", **connection)
    await admin.execute(f'CREATE DATABASE "{shared}"')
    await admin.close()
    manager = manager_for(
        {
            "client": "pg",
            "connection": {**connection, "database": shared},
            "pluginDivisionMode": "schema",
        }
    )
    try:
        assert await same_table_in_two_plugins(manager) == (["catalog"], ["search"])
    finally:
        await manager.close()
    check = await asyncpg.connect(database=shared, **connection)
    try:
        tables = sorted(
            (row[0], row[1])
            for row in await check.fetch(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_name = 'items'"
            )
        )
    finally:
        await check.close()
    assert tables == [("catalog", "items"), ("search", "items")]


async def test_an_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    manager = manager_for(
        {
            "client": "pg",
            "connection": "postgresql://app:very-secret@127.0.0.1:1/x",
        }
    )
    with pytest.raises(ServiceUnavailableError) as caught:
        await manager.for_plugin("catalog").get_engine()
    message = str(caught.value)
    assert "127.0.0.1:1" in message
    assert "backstage_plugin_catalog" in message
    assert "very-secret" not in message


async def test_a_plugin_that_never_uses_its_database_opens_nothing() -> None:
    manager = manager_for({"client": "pg", "connection": "postgresql://nobody@127.0.0.1:1/x"})
    database = manager.for_plugin("quiet")  # what the plugin receives
    assert database.migrations.skip is False
    assert manager._engines == {}  # no engine, no pool, no connection attempt
    await manager.close()


async def test_ensure_exists_false_needs_no_create_rights_nor_pg_database(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    role = f"{prefix}role"
    database = f"{prefix}catalog"
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
        await admin.execute(f'CREATE DATABASE "{database}" OWNER "{role}"')
        await admin.execute(f'REVOKE CONNECT ON DATABASE postgres FROM PUBLIC, "{role}"')
        manager = manager_for(
            {
                "client": "pg",
                "connection": {**connection, "user": role},
                "prefix": prefix,
                "ensureExists": False,
            }
        )
        try:
            engine = await manager.for_plugin("catalog").get_engine()
            async with engine.connect() as session:
                assert (await session.execute(text("SELECT current_user"))).scalar() == role
        finally:
            await manager.close()
    finally:
        await admin.execute("GRANT CONNECT ON DATABASE postgres TO PUBLIC")
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


async def test_sessions_killed_by_the_server_are_replaced(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    manager = pg_manager(connection, prefix)
    try:
        engine = await manager.for_plugin("catalog").get_engine()
        async with engine.connect() as session:
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
            pooled = (await session.get_raw_connection()).driver_connection
        closed = asyncio.Event()
        pooled.add_termination_listener(lambda _connection: closed.set())
        admin = await asyncpg.connect(database="postgres", **connection)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                f"{prefix}catalog",
            )
        finally:
            await admin.close()
        assert killed >= 1
        async with asyncio.timeout(5):  # the client has read the server's goodbye
            await closed.wait()
        async with engine.connect() as session:  # the closed connection is replaced
            assert (await session.execute(text("SELECT 2"))).scalar() == 2
            assert (await session.get_raw_connection()).driver_connection is not pooled
    finally:
        await manager.close()


MIGRATIONS = SAMPLE_MIGRATIONS


async def _runs(manager: DatabaseManager) -> list[str]:
    engine = await manager.for_plugin("catalog").get_engine()
    async with engine.connect() as session:
        rows = await session.execute(text("SELECT revision FROM migration_runs ORDER BY 1"))
        return [row[0] for row in rows]


async def test_migrations_upgrade_history_and_downgrade_on_sqlite() -> None:
    manager = manager_for({"client": "better-sqlite3", "connection": ":memory:"})
    database = manager.for_plugin("catalog")
    try:
        assert await migration_history(database, MIGRATIONS) == [("0001", False), ("0002", False)]
        assert await run_migrations(database, MIGRATIONS, plugin_id="catalog") is True
        assert await migration_history(database, MIGRATIONS) == [("0001", True), ("0002", True)]
        assert await _runs(manager) == ["0001", "0002"]
        await run_migrations(database, MIGRATIONS, plugin_id="catalog")  # nothing left to do
        assert await _runs(manager) == ["0001", "0002"]
        await run_migrations(
            database, MIGRATIONS, plugin_id="catalog", target="0001", downgrade=True
        )
        assert await migration_history(database, MIGRATIONS) == [("0001", True), ("0002", False)]
        # the other plugin's database is untouched
        search = manager.for_plugin("search")
        assert await migration_history(search, MIGRATIONS) == [("0001", False), ("0002", False)]
    finally:
        await manager.close()


async def test_skip_migrations_runs_nothing() -> None:
    manager = manager_for({"client": "better-sqlite3", "skipMigrations": True})
    try:
        assert (
            await run_migrations(manager.for_plugin("catalog"), MIGRATIONS, plugin_id="catalog")
            is False
        )
        assert manager._engines == {}
    finally:
        await manager.close()


async def test_replicas_starting_together_on_postgres_migrate_once(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    replicas = [pg_manager(connection, prefix) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(
                run_migrations(replica.for_plugin("catalog"), MIGRATIONS, plugin_id="catalog")
                for replica in replicas
            )
        )
        assert results == [True] * 4
        assert await _runs(replicas[0]) == ["0001", "0002"]  # each revision ran exactly once
        history = await migration_history(replicas[1].for_plugin("catalog"), MIGRATIONS)
        assert history == [("0001", True), ("0002", True)]
    finally:
        for replica in replicas:
            await replica.close()


async def create_database(connection: dict[str, Any], name: str) -> None:
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def asked_for(openings: list[bytes]) -> list[str]:
    """The database named in each Postgres startup message (`database\\0<name>\\0`)."""
    names = []
    for opening in openings:
        _, found, rest = opening.partition(b"database\x00")
        if found:
            names.append(rest.split(b"\x00", 1)[0].decode())
    return names


async def test_schema_mode_shares_one_pool_among_many_plugins_each_in_its_own_schema(
    postgres: tuple[dict[str, Any], str], tcp_proxy: Any
) -> None:
    connection, prefix = postgres
    shared = f"{prefix}shared"
    await create_database(connection, shared)
    proxy = await tcp_proxy((connection["host"], connection["port"]))
    manager = manager_for(
        {
            "client": "pg",
            "connection": {**connection, "port": proxy.port, "database": shared},
            "pluginDivisionMode": "schema",
            "pool": {"max": 4},
        }
    )
    plugins = [f"plugin-{letter}" for letter in "abcdefghijklmnopqrst"]
    try:
        engines = [await manager.for_plugin(plugin).get_engine() for plugin in plugins]
        assert len({id(engine.sync_engine.pool) for engine in engines}) == 1
        assert engines[0].sync_engine.pool.size() == 4  # type: ignore[attr-defined]
        # the same table name everywhere, with another column type in every other plugin:
        # a statement prepared for one plugin's table must never serve another's
        for index, engine in enumerate(engines):
            column = "TEXT" if index % 2 == 0 else "INTEGER"
            value = plugins[index] if index % 2 == 0 else index
            async with engine.begin() as session:
                await session.execute(text(f"CREATE TABLE items (name {column})"))
                await session.execute(text("INSERT INTO items VALUES (:v)"), {"v": value})

        async def own_rows(index: int) -> tuple[list[Any], str | None]:
            async with engines[index].connect() as session:
                rows = (await session.execute(text("SELECT name FROM items"))).all()
                schema = (await session.execute(text("SELECT current_schema()"))).scalar()
                return [row[0] for row in rows], schema

        rounds = [index for _ in range(10) for index in range(len(plugins))]
        results = await asyncio.gather(*(own_rows(index) for index in rounds))
        for index, (rows, schema) in zip(rounds, results, strict=True):
            assert rows == [plugins[index] if index % 2 == 0 else index]
            assert schema == plugins[index].replace("-", "_")
    finally:
        await manager.close()
    # twenty plugins, never more than the pool's four connections, and only ever to the
    # configured database: never to the `postgres` maintenance database
    assert 1 <= len(proxy.openings) <= 4
    assert set(asked_for(proxy.openings)) == {shared}
    check = await asyncpg.connect(database=shared, **connection)
    try:
        schemas = await check.fetch(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'items'"
        )
    finally:
        await check.close()
    assert sorted(row[0] for row in schemas) == sorted(p.replace("-", "_") for p in plugins)


async def test_a_session_changing_its_search_path_leaks_nothing_to_the_next(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    shared = f"{prefix}shared"
    await create_database(connection, shared)
    manager = manager_for(
        {
            "client": "pg",
            "connection": {**connection, "database": shared},
            "pluginDivisionMode": "schema",
            "pool": {"max": 1},  # one connection: every session reuses it
        }
    )
    try:
        catalog = await manager.for_plugin("catalog").get_engine()
        search = await manager.for_plugin("search").get_engine()
        async with catalog.connect() as session:
            await session.execute(text("SET search_path TO search"))
            await session.commit()
        for engine, expected in ((search, "search"), (catalog, "catalog")):
            async with engine.connect() as session:
                path = (await session.execute(text("SHOW search_path"))).scalar()
                name = (await session.execute(text("SHOW application_name"))).scalar()
            assert (path, name) == (f'"{expected}"', f"backstage_plugin_{expected}")
        # ORM sessions and reflection see the plugin's schema too
        async with catalog.begin() as session:
            await session.execute(text("CREATE TABLE IF NOT EXISTS owned (id INTEGER)"))
        sessions = await manager.for_plugin("catalog").get_session_factory()
        async with sessions() as orm:
            assert (await orm.execute(text("SELECT current_schema()"))).scalar() == "catalog"
        async with catalog.connect() as session:
            tables = await session.run_sync(lambda sync: inspect(sync).get_table_names())
        assert tables == ["owned"]
        async with search.connect() as session:
            tables = await session.run_sync(lambda sync: inspect(sync).get_table_names())
        assert tables == []
        # a session of the shared pool that is no plugin's sees no schema at all
        shared_engine = next(iter(manager._shared.values()))
        async with shared_engine.connect() as session:
            assert (await session.execute(text("SELECT current_schema()"))).scalar() is None
    finally:
        await manager.close()


async def test_schema_mode_migrations_keep_each_plugin_in_its_schema(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    shared = f"{prefix}shared"
    await create_database(connection, shared)
    manager = manager_for(
        {
            "client": "pg",
            "connection": {**connection, "database": shared},
            "pluginDivisionMode": "schema",
        }
    )
    try:
        catalog, search = manager.for_plugin("catalog"), manager.for_plugin("search")
        await asyncio.gather(
            run_migrations(catalog, MIGRATIONS, plugin_id="catalog"),
            run_migrations(search, MIGRATIONS, plugin_id="search"),
        )
        assert await migration_history(search, MIGRATIONS) == [("0001", True), ("0002", True)]
        await run_migrations(
            catalog, MIGRATIONS, plugin_id="catalog", target="0001", downgrade=True
        )
        assert await migration_history(catalog, MIGRATIONS) == [("0001", True), ("0002", False)]
        assert await migration_history(search, MIGRATIONS) == [("0001", True), ("0002", True)]
    finally:
        await manager.close()


async def test_a_plugin_with_its_own_connection_gets_its_own_pool(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    shared, other = f"{prefix}shared", f"{prefix}other"
    await create_database(connection, shared)
    await create_database(connection, other)
    manager = manager_for(
        {
            "client": "pg",
            "connection": {**connection, "database": shared},
            "pluginDivisionMode": "schema",
            "plugin": {"billing": {"connection": {"database": other}}},
        }
    )
    try:
        catalog, search, billing = [
            await manager.for_plugin(plugin).get_engine()
            for plugin in ("catalog", "search", "billing")
        ]
        assert catalog.sync_engine.pool is search.sync_engine.pool
        assert billing.sync_engine.pool is not catalog.sync_engine.pool
        async with billing.connect() as session:
            where = await session.execute(text("SELECT current_database(), current_schema()"))
            assert tuple(where.one()) == (other, "billing")
    finally:
        await manager.close()


async def test_shared_pool_false_gives_each_plugin_its_own_pool(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    shared = f"{prefix}shared"
    await create_database(connection, shared)
    manager = manager_for(
        {
            "client": "pg",
            "connection": {**connection, "database": shared},
            "pluginDivisionMode": "schema",
            "sharedPool": False,
        }
    )
    try:
        assert await same_table_in_two_plugins(manager) == (["catalog"], ["search"])
        catalog = await manager.for_plugin("catalog").get_engine()
        search = await manager.for_plugin("search").get_engine()
        assert catalog.sync_engine.pool is not search.sync_engine.pool
        assert catalog.sync_engine.pool.size() == 10  # type: ignore[attr-defined]
    finally:
        await manager.close()


def test_pool_size_per_plugin_from_config_with_defaults() -> None:
    def size(database: dict[str, Any], plugin: str = "catalog") -> int:
        return manager_for({"client": "pg", **database}).for_plugin(plugin).settings.pool_size

    assert size({}) == 10  # one pool per plugin, as Backstage's
    assert size({"pluginDivisionMode": "schema"}) == 10  # one pool for all the plugins
    assert size({"pool": {"max": 3}}) == 3
    assert size({"knexConfig": {"pool": {"max": 7}}}) == 7  # Backstage's key
    overridden = {"pool": {"max": 3}, "plugin": {"search": {"pool": {"max": 12}}}}
    assert (size(overridden), size(overridden, "search")) == (3, 12)
    for bad in (0, -1, 2.5, "many"):
        with pytest.raises(InputError, match=r"backend\.database\.pool\.max"):
            size({"pool": {"max": bad}})


async def test_a_plugin_pool_never_opens_more_than_its_size(
    postgres: tuple[dict[str, Any], str], tcp_proxy: Any
) -> None:
    connection, prefix = postgres
    proxy = await tcp_proxy((connection["host"], connection["port"]))
    manager = manager_for(
        {
            "client": "pg",
            "connection": {**connection, "port": proxy.port},
            "prefix": prefix,
            "plugin": {"catalog": {"pool": {"max": 3}}},
        }
    )
    try:
        engine = await manager.for_plugin("catalog").get_engine()

        async def busy() -> None:
            async with engine.connect() as session:
                await session.execute(text("SELECT pg_sleep(0.05)"))

        await asyncio.gather(*(busy() for _ in range(12)))
    finally:
        await manager.close()
    assert asked_for(proxy.openings).count(f"{prefix}catalog") == 3


def test_schema_mode_without_a_database_uses_the_driver_default_not_postgres() -> None:
    manager = manager_for(
        {"client": "pg", "connection": "postgresql://app@db:5432", "pluginDivisionMode": "schema"}
    )
    settings = manager.for_plugin("catalog").settings
    assert (settings.database_name, settings.schema, settings.shared_pool) == (
        None,
        "catalog",
        True,
    )


async def test_schema_mode_unreachable_is_a_clear_error_without_the_password() -> None:
    manager = manager_for(
        {
            "client": "pg",
            "connection": "postgresql://app:very-secret@127.0.0.1:1/shared",
            "pluginDivisionMode": "schema",
        }
    )
    try:
        with pytest.raises(ServiceUnavailableError) as caught:
            await manager.for_plugin("catalog").get_engine()
    finally:
        await manager.close()
    message = str(caught.value)
    assert "127.0.0.1:1" in message
    assert "schema 'catalog'" in message
    assert "very-secret" not in message
