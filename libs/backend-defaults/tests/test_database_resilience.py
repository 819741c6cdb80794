"""No request waits forever on the database, and none learns its internals: a real backend
on the test Postgres behind a TCP proxy the test controls (refuse: the server went away;
blackhole: a partition, where nothing answers and nothing is refused)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from backstage_backend_defaults.database import (
    DatabaseManager,
    DatabaseUnavailableError,
    as_unavailable,
    read_plugin_settings,
    run_migrations,
)
from backstage_backend_defaults.database._settings import DatabaseLimits
from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import TcpFaultProxy, start_test_backend, tcp_fault_proxy
from backstage_common.config import Config
from backstage_common.errors import ConflictError, InputError
from litestar import get, post
from litestar.params import FromPath, FromQuery
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

READINESS = "/.backstage/health/v1/readiness"
GENERIC_MESSAGES = (
    "The database is unavailable, try again later",
    "The database is busy, try again later",
    "The database did not answer in time, try again later",
)
INTERNALS = (
    "sqlalche.me",
    "QueuePool",
    "ConnectionRefused",
    "TimeoutError",
    "asyncpg",
    "canceling statement",
    "pg_sleep",
    "SELECT",
    "INSERT",
    "127.0.0.1",
    "logId",
)


def inventory_plugin(*, query_on_shutdown: bool = False) -> BackendPlugin:
    """A plugin whose routes use its database: a cheap query, a slow one, its session's
    settings, and an insert that conflicts on a second call."""

    async def init(
        database: core.Database, router: core.HttpRouter, lifecycle: core.Lifecycle
    ) -> None:
        engine = await database.get_engine()
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE IF NOT EXISTS items (name TEXT UNIQUE)"))

        @get("/one")
        async def one() -> dict[str, Any]:
            async with engine.connect() as connection:
                return {"value": (await connection.execute(text("SELECT 1"))).scalar()}

        @get("/sleep")
        async def sleep(seconds: FromQuery[float]) -> dict[str, Any]:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
            return {"slept": seconds}

        @get("/settings")
        async def settings() -> dict[str, Any]:
            async with engine.connect() as connection:
                jit = (await connection.execute(text("SHOW jit"))).scalar()
                timeout = (await connection.execute(text("SHOW statement_timeout"))).scalar()
            return {"jit": jit, "statement_timeout": timeout}

        @post("/items/{name:str}")
        async def add(name: FromPath[str]) -> dict[str, Any]:
            try:
                async with engine.begin() as connection:
                    await connection.execute(text("INSERT INTO items VALUES (:n)"), {"n": name})
            except IntegrityError as error:
                raise ConflictError("The item already exists") from error
            return {"name": name}

        router.use(one, sleep, settings, add)

        async def flush() -> None:  # a plugin that writes what it holds at shutdown
            async with engine.begin() as connection:
                await connection.execute(text("SELECT 1"))

        if query_on_shutdown:
            lifecycle.add_shutdown_hook(flush)

    def register(env: PluginRegistrationPoints) -> None:
        env.register_init(init)

    return create_backend_plugin(plugin_id="inventory", register=register)


def database_config(
    connection: dict[str, Any], prefix: str, port: int, **limits: Any
) -> dict[str, Any]:
    pool = limits.pop("pool", {"max": 2})
    acquire = limits.pop("acquireConnectionTimeout", 1000)
    return {
        "client": "pg",
        "connection": {**connection, "port": port, **limits},
        "prefix": prefix,
        "pool": pool,
        "acquireConnectionTimeout": acquire,
    }


@asynccontextmanager
async def inventory_backend(
    postgres: tuple[dict[str, Any], str],
    *,
    shutdown_timeout: str = "5s",
    query_on_shutdown: bool = False,
    **limits: Any,
) -> AsyncIterator[tuple[Any, TcpFaultProxy]]:
    connection, prefix = postgres
    async with tcp_fault_proxy(connection["host"], connection["port"]) as proxy:
        config = {
            "backend": {
                "database": database_config(connection, prefix, proxy.port, **limits),
                "lifecycle": {"shutdownTimeout": shutdown_timeout},
            }
        }
        features = [inventory_plugin(query_on_shutdown=query_on_shutdown)]
        async with start_test_backend(features=features, config=config) as backend:
            yield backend, proxy


def assert_generic_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["name"] == "ServiceUnavailableError"
    assert error["message"] in GENERIC_MESSAGES
    assert "cause" not in error
    for internal in INTERNALS:
        assert internal not in response.text


async def timed_get(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.get(path, timeout=60)
    return response, time.monotonic() - started


async def until_ok(client: httpx.AsyncClient, path: str, attempts: int = 50) -> httpx.Response:
    """The first 200 of `path` (a pool may hand out one dead connection before it notices)."""
    response = await client.get(path, timeout=30)
    for _ in range(attempts):
        if response.status_code == 200:
            break
        await asyncio.sleep(0.1)
        response = await client.get(path, timeout=30)
    return response


async def test_every_session_has_the_statement_timeout_and_no_jit(
    postgres: tuple[dict[str, Any], str],
) -> None:
    async with inventory_backend(postgres, statement_timeout=1500) as (backend, _proxy):
        response = await backend.client.get("/api/inventory/settings")
        assert response.json() == {"jit": "off", "statement_timeout": "1500ms"}


async def test_a_plugin_can_have_its_own_statement_timeout_and_jit(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    config = {
        "backend": {
            "database": {
                "client": "pg",
                "connection": connection,
                "prefix": prefix,
                "plugin": {
                    "inventory": {"connection": {"statement_timeout": "2s"}, "jit": True},
                },
            }
        }
    }
    async with start_test_backend(features=[inventory_plugin()], config=config) as backend:
        response = await backend.client.get("/api/inventory/settings")
        assert response.json() == {"jit": "on", "statement_timeout": "2s"}


async def test_a_statement_past_its_timeout_is_cancelled_and_answers_503(
    postgres: tuple[dict[str, Any], str],
) -> None:
    async with inventory_backend(postgres, statement_timeout=500) as (backend, _proxy):
        response, took = await timed_get(backend.client, "/api/inventory/sleep?seconds=30")
        assert_generic_503(response)
        assert took < 10  # cancelled by the server after 0.5 s, not after 30 s
        assert (await backend.client.get("/api/inventory/one")).json() == {"value": 1}


async def test_a_blackholed_database_answers_503_within_the_timeouts_then_recovers(
    postgres: tuple[dict[str, Any], str],
) -> None:
    async with inventory_backend(postgres, connectionTimeoutMillis=1000, query_timeout=1500) as (
        backend,
        proxy,
    ):
        assert (await backend.client.get("/api/inventory/one")).status_code == 200
        await proxy.blackhole()
        # a connection of the pool (its statement gets no answer), then new connections
        # (their connect gets no answer): each bounded by its timeout
        for _ in range(3):
            response, took = await timed_get(backend.client, "/api/inventory/one")
            assert_generic_503(response)
            assert took < 15
        await proxy.restore()
        assert (await until_ok(backend.client, "/api/inventory/one")).json() == {"value": 1}


async def test_a_refused_database_answers_503_then_recovers(
    postgres: tuple[dict[str, Any], str],
) -> None:
    async with inventory_backend(postgres) as (backend, proxy):
        assert (await backend.client.get("/api/inventory/one")).status_code == 200
        await proxy.refuse()
        for _ in range(3):  # the connection that was reset, then refused connects
            response, took = await timed_get(backend.client, "/api/inventory/one")
            assert_generic_503(response)
            assert took < 15
        await proxy.restore()
        assert (await until_ok(backend.client, "/api/inventory/one")).json() == {"value": 1}


async def test_an_exhausted_pool_answers_503_and_readiness_stays_ready(
    postgres: tuple[dict[str, Any], str],
) -> None:
    async with inventory_backend(postgres, pool={"max": 1}, acquireConnectionTimeout=300) as (
        backend,
        _proxy,
    ):
        assert (await backend.client.get(READINESS)).status_code == 200
        slow = asyncio.create_task(backend.client.get("/api/inventory/sleep?seconds=3"))
        await asyncio.sleep(0.5)  # the slow request holds the pool's one connection
        response, took = await timed_get(backend.client, "/api/inventory/one")
        assert_generic_503(response)
        assert response.json()["error"]["message"] == "The database is busy, try again later"
        assert took < 3
        # readiness has a connection of its own: a busy pool is not a database that is down
        assert (await backend.client.get(READINESS)).status_code == 200
        assert (await slow).status_code == 200
        assert (await backend.client.get("/api/inventory/one")).status_code == 200


async def test_a_conflict_carries_neither_statement_nor_values(
    postgres: tuple[dict[str, Any], str],
) -> None:
    async with inventory_backend(postgres) as (backend, _proxy):
        name = "private-value-4711"
        assert (await backend.client.post(f"/api/inventory/items/{name}")).status_code == 201
        response = await backend.client.post(f"/api/inventory/items/{name}")
        assert response.status_code == 409
        error = response.json()["error"]
        assert error == {"name": "ConflictError", "message": "The item already exists"}
        assert "cause" not in error  # the IntegrityError: its statement, values and detail


async def test_stopping_during_a_blackhole_finishes_within_the_shutdown_timeout(
    postgres: tuple[dict[str, Any], str],
) -> None:
    # no timeout of the database would end these waits for a minute: shutdown must
    # not wait for them
    async with inventory_backend(
        postgres,
        shutdown_timeout="2s",
        query_on_shutdown=True,
        connectionTimeoutMillis=60_000,
        query_timeout=60_000,
        statement_timeout=60_000,
        acquireConnectionTimeout=60_000,
    ) as (backend, proxy):
        assert (await backend.client.get("/api/inventory/one")).status_code == 200
        await proxy.blackhole()
        in_flight = asyncio.create_task(backend.client.get("/api/inventory/one", timeout=60))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        await asyncio.wait_for(backend.backend.stop(), 30)
        took = time.monotonic() - started
        assert took < 2 + 3  # the shutdown timeout, and a moment to close the server
        response = await asyncio.wait_for(in_flight, 10)
        assert response.status_code == 503  # cancelled at the deadline, and told so
        assert response.headers["connection"] == "close"


def test_limits_are_read_with_backstage_names_and_a_plugin_overrides_them() -> None:
    config = Config.from_data(
        {
            "backend": {
                "database": {
                    "client": "pg",
                    "connection": {
                        "host": "db",
                        "statement_timeout": 20_000,
                        "keepAlive": False,
                        "connectionTimeoutMillis": "3s",
                    },
                    "knexConfig": {"acquireConnectionTimeout": 4000},
                    "plugin": {
                        "catalog": {
                            "connection": {"query_timeout": 25_000},
                            "acquireConnectionTimeout": "1s",
                            "jit": True,
                        }
                    },
                }
            }
        }
    )
    search = read_plugin_settings(config, "search")
    assert search.limits == DatabaseLimits(
        connect=3.0, acquire=4.0, statement=20.0, query=25.0, keepalive=False, jit=False
    )
    catalog = read_plugin_settings(config, "catalog")
    assert catalog.limits == DatabaseLimits(
        connect=3.0, acquire=1.0, statement=20.0, query=25.0, keepalive=False, jit=True
    )
    # the limits are not where to connect: the driver never sees them as such
    assert catalog.connection == {"host": "db"}
    assert read_plugin_settings(Config.from_data({}), "x").limits == DatabaseLimits()
    tarn = {"client": "pg", "knexConfig": {"pool": {"acquireTimeoutMillis": 2500}}}
    limits = read_plugin_settings(Config.from_data({"backend": {"database": tarn}}), "x").limits
    assert limits.acquire == 2.5


def test_a_limit_that_is_not_a_duration_is_refused() -> None:
    config = Config.from_data(
        {"backend": {"database": {"client": "pg", "connection": {"statement_timeout": "soon"}}}}
    )
    with pytest.raises(InputError, match="statement_timeout"):
        read_plugin_settings(config, "catalog")


async def test_an_error_text_never_carries_bound_values(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    manager = DatabaseManager(
        Config.from_data({"backend": {"database": {**database_config(connection, prefix, 5432)}}})
    )
    try:
        engine = await manager.for_plugin("inventory").get_engine()
        insert = text("INSERT INTO names VALUES (:v)")
        async with engine.begin() as session:
            await session.execute(text("CREATE TABLE names (name TEXT UNIQUE)"))
            await session.execute(insert, {"v": "secret-4711"})
        with pytest.raises(DBAPIError) as raised:
            async with engine.begin() as session:
                await session.execute(insert, {"v": "secret-4711"})
        # SQLAlchemy would otherwise list the parameters of the failed statement
        assert "duplicate key" in str(raised.value)
        assert "secret-4711" not in str(raised.value)
    finally:
        await manager.close()


async def test_background_work_has_connections_of_its_own(
    postgres: tuple[dict[str, Any], str],
) -> None:
    async with inventory_backend(postgres, pool={"max": 1}, acquireConnectionTimeout=300) as (
        backend,
        _proxy,
    ):
        database = await backend.get_service(core.database, "inventory")
        background = await database.get_engine(purpose="background")
        assert background is not await database.get_engine()
        assert background.sync_engine.pool.size() == 2  # backgroundPool.max's default
        slow = asyncio.create_task(backend.client.get("/api/inventory/sleep?seconds=2"))
        await asyncio.sleep(0.5)  # requests have no free connection now
        assert_generic_503(await backend.client.get("/api/inventory/one"))
        async with background.connect() as connection:  # background work goes on
            assert (await connection.execute(text("SELECT count(*) FROM items"))).scalar() == 0
        assert (await slow).status_code == 200


def test_the_background_pool_size_is_configurable_per_plugin() -> None:
    config = Config.from_data(
        {
            "backend": {
                "database": {
                    "client": "pg",
                    "backgroundPool": {"max": 3},
                    "plugin": {"catalog": {"backgroundPool": {"max": 4}}},
                }
            }
        }
    )
    assert read_plugin_settings(config, "search").background_pool_size == 3
    assert read_plugin_settings(config, "catalog").background_pool_size == 4


async def test_in_schema_mode_background_work_stays_in_each_plugin_schema(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres
    shared = f"{prefix}shared"
    admin = await asyncpg.connect(database="postgres", **connection)
    await admin.execute(f'CREATE DATABASE "{shared}"')
    await admin.close()
    database = {
        "client": "pg",
        "connection": {**connection, "database": shared},
        "pluginDivisionMode": "schema",
    }
    manager = DatabaseManager(Config.from_data({"backend": {"database": database}}))
    try:
        schemas = []
        for plugin_id in ("catalog", "search"):
            engine = await manager.for_plugin(plugin_id).get_engine(purpose="background")
            async with engine.connect() as session:
                schemas.append((await session.execute(text("SELECT current_schema()"))).scalar())
        assert schemas == ["catalog", "search"]
    finally:
        await manager.close()


async def test_migrations_run_without_the_statement_limits_and_give_them_back(
    postgres: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    connection, prefix = postgres
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0001_slow.py").write_text(
        "from alembic import op\n"
        "revision = '0001'\n"
        "down_revision = None\n"
        "def upgrade():\n"
        "    op.execute('SELECT pg_sleep(1.5)')\n"
        "def downgrade():\n"
        "    pass\n"
    )
    limits = {"statement_timeout": 500, "query_timeout": 1000}
    database = database_config(connection, prefix, int(connection["port"]), **limits)
    manager = DatabaseManager(Config.from_data({"backend": {"database": database}}))
    try:
        plugin = manager.for_plugin("inventory")
        assert await run_migrations(plugin, versions, plugin_id="inventory")
        engine = await plugin.get_engine()
        for _ in range(2):  # every connection of the pool has its limit back
            async with engine.connect() as session:
                timeout = (await session.execute(text("SHOW statement_timeout"))).scalar()
                assert timeout == "500ms"
    finally:
        await manager.close()


async def test_a_database_first_used_by_a_request_while_down_answers_a_generic_503(
    postgres: tuple[dict[str, Any], str],
) -> None:
    connection, prefix = postgres

    async def init(database: core.Database, router: core.HttpRouter) -> None:
        @get("/lazy")
        async def lazy() -> dict[str, Any]:
            engine = await database.get_engine()  # first use: ensures the database
            async with engine.connect() as session:
                return {"value": (await session.execute(text("SELECT 1"))).scalar()}

        router.use(lazy)

    def register(env: PluginRegistrationPoints) -> None:
        env.register_init(init)

    plugin = create_backend_plugin(plugin_id="lazy", register=register)
    async with tcp_fault_proxy(connection["host"], connection["port"]) as proxy:
        await proxy.refuse()
        config = {"backend": {"database": database_config(connection, prefix, proxy.port)}}
        async with start_test_backend(features=[plugin], config=config) as backend:
            response = await backend.client.get("/api/lazy/lazy")
            assert_generic_503(response)
            assert str(proxy.port) not in response.text
            await proxy.restore()
            assert (await until_ok(backend.client, "/api/lazy/lazy")).json() == {"value": 1}


async def test_asyncpg_errors_raised_unwrapped_are_503s_only_when_the_connection_is_gone(
    postgres: tuple[dict[str, Any], str],
) -> None:
    """A pool's checkout hooks use the driver's connection directly, so a connection cut
    there reaches the error renderer as asyncpg's own error, not SQLAlchemy's."""
    connection, _ = postgres
    async with tcp_fault_proxy(connection["host"], connection["port"]) as proxy:
        driver = await asyncpg.connect(
            database="postgres", **{**connection, "host": "127.0.0.1", "port": proxy.port}
        )
        await proxy.refuse()
        with pytest.raises(asyncpg.PostgresError) as cut:
            await driver.execute("SET plan_cache_mode = force_custom_plan")
        driver.terminate()
    unavailable = as_unavailable(cut.value)
    assert isinstance(unavailable, DatabaseUnavailableError)
    assert unavailable.public_message == "The database is unavailable, try again later"
    admin = await asyncpg.connect(database="postgres", **connection)
    try:
        with pytest.raises(asyncpg.PostgresError) as syntax:
            await admin.execute("SELEKT 1")
    finally:
        await admin.close()
    assert as_unavailable(syntax.value) is None
