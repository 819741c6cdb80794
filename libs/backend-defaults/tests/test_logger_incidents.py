"""Logs during an incident: repeated failures counted, 503s as warnings, database errors
without bound values, every line within `backend.logging.maxLineLength`."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from backstage_backend_defaults.logger import RepeatedFailures, create_root_logger
from backstage_backend_plugin_api import (
    PluginRegistrationPoints,
    core_services,
    create_backend_plugin,
    create_service_factory,
)
from backstage_backend_test_utils import postgres_database_config, start_test_backend
from backstage_common import errors
from backstage_common.config import Config
from litestar import get
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncEngine

SECRET = "s3cr3t-t0ken-ABCDEF"
FAILURES = 40


def capture(logging: dict[str, object]) -> tuple[Any, list[bytes]]:
    lines: list[bytes] = []
    config = Config.from_data({"backend": {"logging": {"format": "json", **logging}}})
    return create_root_logger(config, write=lines.append, env={}), lines


def entries(lines: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def logger_factory(lines: list[bytes]) -> Any:
    def root_logger(config: core_services.RootConfig) -> Any:
        return create_root_logger(config, write=lines.append, env={})

    return create_service_factory(service=core_services.root_logger, factory=root_logger)


def failing_plugin(engine_holder: dict[str, AsyncEngine] | None = None) -> Any:
    """Routes that fail as an outage makes them fail, and one that breaks a unique key with
    a secret-looking value."""

    @get("/outage/{attempt:int}")
    async def outage(attempt: FromPath[int]) -> None:
        # the message varies as a driver's does (ports, ids), the failure is the same
        raise ConnectionResetError(f"connection 0x{attempt:08x} to 10.0.0.{attempt} reset")

    @get("/unavailable")
    async def unavailable() -> None:
        raise errors.ServiceUnavailableError("Service is shutting down")

    @get("/huge")
    async def huge() -> None:
        raise RuntimeError("x" * 5_000_000)

    @get("/duplicate")
    async def duplicate() -> None:
        assert engine_holder is not None
        try:
            async with engine_holder["engine"].begin() as connection:
                await connection.execute(
                    sa.text("INSERT INTO secrets (name, padding) VALUES (:name, :padding)"),
                    {"name": SECRET, "padding": "p" * 50_000},
                )
        except sa.exc.IntegrityError as error:
            logger_holder["logger"].warn(f"Could not store: {error}", error)
            raise

    logger_holder: dict[str, Any] = {}

    def register(env: PluginRegistrationPoints) -> None:
        async def init(
            router: core_services.HttpRouter,
            database: core_services.Database,
            logger: core_services.Logger,
        ) -> None:
            logger_holder["logger"] = logger
            router.use(outage, unavailable, huge, duplicate)
            router.add_auth_policy(path="/", allow="unauthenticated")
            if engine_holder is not None:
                engine = await database.get_engine()
                async with engine.begin() as connection:
                    await connection.execute(
                        sa.text("CREATE TABLE secrets (name text PRIMARY KEY, padding text)")
                    )
                    await connection.execute(
                        sa.text("INSERT INTO secrets VALUES (:name, '')"), {"name": SECRET}
                    )
                engine_holder["engine"] = engine

        env.register_init(init)

    return create_backend_plugin(plugin_id="flaky", register=register)


async def wait_for(predicate: Any) -> None:
    """Until `predicate()` holds; the bound only proves that it does not hang."""
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_an_outage_logs_one_trace_then_counted_summaries() -> None:
    lines: list[bytes] = []
    config = {"backend": {"logging": {"format": "json", "level": "info", "repeatInterval": "1s"}}}
    async with start_test_backend(
        features=[logger_factory(lines), failing_plugin()], config=config
    ) as backend:
        for attempt in range(FAILURES):
            response = await backend.client.get(f"/api/flaky/outage/{attempt}")
            assert response.status_code == 500
        await wait_for(lambda: any("repeated" in entry for entry in entries(lines)))
    failures = [entry for entry in entries(lines) if entry["level"] == "error"]
    full = [entry for entry in failures if "stack" in entry["error"]]
    summaries = [entry for entry in failures if "repeated" in entry]
    assert len(full) == 1
    assert "ConnectionResetError" in full[0]["error"]["stack"]
    assert len(summaries) == 1
    assert summaries[0]["repeated"] == FAILURES - 1
    assert f"(repeated {FAILURES - 1} times in the last" in summaries[0]["message"]
    assert summaries[0]["error"]["name"] == "ConnectionResetError"
    assert summaries[0]["plugin"] == full[0]["plugin"] == "flaky"
    assert len(failures) == 2


def test_a_failure_that_goes_on_is_summarised_each_interval_and_logged_again_after_a_pause() -> (
    None
):
    emitted: list[tuple[int, str, dict[str, object]]] = []
    now = [0.0]
    repeats = RepeatedFailures(
        10.0,
        lambda level, message, fields: emitted.append((level, message, dict(fields))),
        clock=lambda: now[0],
    )
    verdicts = []
    for second in range(25):  # failing every second for 25 s
        now[0] = float(second)
        verdicts.append(repeats.admit("db down", 40, "Catalog processing failed", {}))
        verdicts.append(repeats.admit("other", 40, "Something else failed", {}))
    assert [v.value for v in verdicts].count("full") == 2  # one per distinct failure
    assert [(m, f["repeated"]) for _, m, f in emitted] == [
        ("Catalog processing failed (repeated 9 times in the last 10 s)", 9),
        ("Something else failed (repeated 9 times in the last 10 s)", 9),
        ("Catalog processing failed (repeated 10 times in the last 10 s)", 10),
        ("Something else failed (repeated 10 times in the last 10 s)", 10),
    ]
    emitted.clear()
    now[0] = 60.0  # quiet since 24 s: the summary of 20-24 s, and this one in full again
    assert repeats.admit("db down", 40, "Catalog processing failed", {}).value == "full"
    assert [m for _, m, _ in emitted] == [
        "Catalog processing failed (repeated 5 times in the last 40 s)",
        "Something else failed (repeated 5 times in the last 40 s)",
    ]
    emitted.clear()
    now[0] = 61.0
    assert repeats.admit("db down", 40, "Catalog processing failed", {}).value == "counted"
    repeats.flush()  # at shutdown
    assert [m for _, m, _ in emitted] == [
        "Catalog processing failed (repeated once in the last 1 s)"
    ]


def test_distinct_failures_and_plugins_are_not_counted_together() -> None:
    logger, lines = capture({"repeatInterval": "1h"})
    catalog, search = logger.child({"plugin": "catalog"}), logger.child({"plugin": "search"})
    for attempt in range(5):
        catalog.error(f"Request {attempt} failed", ConnectionRefusedError(f"port {attempt}"))
        search.error(f"Request {attempt} failed", ConnectionRefusedError(f"port {attempt}"))
        catalog.error("Request failed", ValueError("bad"))
        catalog.warn("Request failed", ValueError("bad"))
    logger.info("info lines are never counted")
    logger.info("info lines are never counted")
    logged = entries(lines)
    assert len(logged) == 6
    logger.sink.flush()
    summaries = [entry for entry in entries(lines) if "repeated" in entry]
    assert sorted((s["plugin"], s["level"], s["repeated"]) for s in summaries) == [
        ("catalog", "error", 4),
        ("catalog", "error", 4),
        ("catalog", "warn", 4),
        ("search", "error", 4),
    ]


def test_repeat_interval_zero_logs_every_failure_in_full() -> None:
    logger, lines = capture({"repeatInterval": 0})
    for _ in range(3):
        logger.error("failed", RuntimeError("same"))
    assert all("stack" in entry["error"] for entry in entries(lines))
    assert len(lines) == 3


async def test_a_503_is_a_warning_without_a_stack_and_counted() -> None:
    lines: list[bytes] = []
    config = {"backend": {"logging": {"format": "json", "level": "info", "repeatInterval": "1h"}}}
    async with start_test_backend(
        features=[logger_factory(lines), failing_plugin()], config=config
    ) as backend:
        for _ in range(10):
            response = await backend.client.get("/api/flaky/unavailable")
            assert response.status_code == 503
    logged = [entry for entry in entries(lines) if "error" in entry]
    assert len(logged) == 1
    (warning,) = logged
    assert warning["level"] == "warn"
    assert warning["error"] == {
        "name": "ServiceUnavailableError",
        "message": "Service is shutting down",
    }
    assert warning["message"] == "Request failed with status 503: Service is shutting down"
    assert warning["plugin"] == "flaky"


async def test_a_huge_error_message_is_cut_to_the_maximum_line_length() -> None:
    lines: list[bytes] = []
    config = {"backend": {"logging": {"format": "json", "level": "info", "maxLineLength": 8192}}}
    async with start_test_backend(
        features=[logger_factory(lines), failing_plugin()], config=config
    ) as backend:
        response = await backend.client.get("/api/flaky/huge")
        assert response.status_code == 500
    assert all(len(line) <= 8192 for line in lines)
    (failure,) = [entry for entry in entries(lines) if entry["level"] == "error"]
    assert "characters cut]" in failure["message"]
    assert "characters cut]" in failure["error"]["message"]
    # the stack keeps both ends: where it started and how the message ended
    assert failure["error"]["stack"].startswith("Traceback")
    assert "characters cut]" in failure["error"]["stack"]
    assert failure["error"]["stack"].endswith("xxx\n")


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_every_line_fits_whatever_it_holds(fmt: str) -> None:
    logger, lines = capture({"format": fmt, "maxLineLength": 1024})
    logger.info("many fields", {f"field{i}": "v" * 100 for i in range(1000)})
    logger.info("long list", {"refs": ["component:default/x"] * 10_000})
    logger.info("\u0000\u2603" * 100_000)
    logger.warn("nested", {"a": {"b": {"c": ["y" * 10_000] * 50}}})
    logger.error("big number", {"n": 10**5000})
    assert len(lines) == 5
    for line in lines:
        assert len(line) <= 1024
        assert line.endswith(b"\n")
        if fmt == "json":
            json.loads(line)


def test_max_line_length_must_be_reasonable() -> None:
    with pytest.raises(errors.InputError, match=r"backend\.logging\.maxLineLength"):
        capture({"maxLineLength": 10})


@pytest.fixture
async def pg_database() -> AsyncIterator[dict[str, Any]]:
    async with postgres_database_config("logs") as database:
        yield database


async def test_a_database_error_is_logged_without_its_bound_values(
    pg_database: dict[str, Any],
) -> None:
    lines: list[bytes] = []
    holder: dict[str, AsyncEngine] = {}
    config = {
        "backend": {
            "database": pg_database,
            "logging": {"format": "json", "level": "debug", "repeatInterval": 0},
        }
    }
    async with start_test_backend(
        features=[logger_factory(lines), failing_plugin(holder)], config=config
    ) as backend:
        response = await backend.client.get("/api/flaky/duplicate")
        assert response.status_code in (409, 500)
        assert SECRET not in response.text
    logged = b"".join(lines).decode()
    assert SECRET not in logged
    assert "p" * 200 not in logged
    assert "[parameters:" not in logged
    (stored,) = [e for e in entries(lines) if e["message"].startswith("Could not store")]
    assert stored["plugin"] == "flaky"
    assert stored["message"].startswith("Could not store: (sqlalchemy.dialects.postgresql")
    assert 'duplicate key value violates unique constraint "secrets_pkey"' in stored["message"]
    assert "[SQL: INSERT INTO secrets (name, padding) VALUES ($1, $2)]" in logged
    assert "UniqueViolationError" in stored["error"]["stack"]


@pytest.mark.parametrize("fmt", ["json", "text"])
async def test_driver_errors_keep_their_first_line_and_a_short_statement(fmt: str) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    import os

    url = os.environ.get("BACKSTAGE_TEST_POSTGRES_URL", url).replace(
        "postgresql://", "postgresql+asyncpg://"
    )
    engine = sa.ext.asyncio.create_async_engine(url)
    logger, lines = capture({"format": fmt, "repeatInterval": 0})
    long_statement = "SELECT CAST(:value AS integer) AS " + "x" * 400
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text("CREATE TEMP TABLE t (name text PRIMARY KEY)"))
            await connection.execute(sa.text("INSERT INTO t VALUES (:v)"), {"v": SECRET})
            for statement, params in [
                ("INSERT INTO t VALUES (:v)", {"v": SECRET}),  # DETAIL: Key (name)=(secret)
                (long_statement, {"value": SECRET}),  # invalid input ... $1: 'secret'
                ("SELECT CAST(:value AS integer)", {"value": "12" + SECRET}),
                # the server quotes the value it could not read, one of 2,000 in an array
                (
                    "SELECT CAST(v AS integer) FROM unnest(CAST(:values AS text[])) AS v",
                    {"values": [*map(str, range(1999)), SECRET]},
                ),
            ]:
                try:
                    async with connection.begin_nested():
                        await connection.execute(sa.text(statement), params)
                except sa.exc.DBAPIError as error:
                    logger.error(f"Request failed: {error}", error)
                    logger.warn("Janitor failed", {"error": error, "task": "janitor"})
    finally:
        await engine.dispose()
    logged = b"".join(lines).decode()
    assert len(lines) == 8
    assert re.search(r'invalid input syntax for type integer: \\?"\[REDACTED\]', logged)
    assert SECRET not in logged
    assert "[parameters:" not in logged
    assert "duplicate key value violates unique constraint" in logged
    assert "invalid input for query argument $1: [REDACTED]" in logged
    assert "x" * 201 not in logged
    assert "[SQL: INSERT INTO t VALUES ($1)]" in logged


def test_past_the_failures_it_can_count_each_new_one_is_logged_without_its_stack() -> None:
    emitted: list[str] = []
    repeats = RepeatedFailures(
        10.0, lambda level, message, fields: emitted.append(message), max_tracked=2
    )
    verdicts = [repeats.admit(key, 40, key, {}).value for key in ("a", "b", "c", "a", "c")]
    assert verdicts == ["full", "full", "brief", "counted", "brief"]
    logger, lines = capture({"repeatInterval": "1h"})
    logger.sink.repeats = RepeatedFailures(1e9, logger.sink.emit, max_tracked=1)
    logger.error("first failure", RuntimeError("one"))
    logger.error("second failure", RuntimeError("two"))
    first, second = entries(lines)
    assert "stack" in first["error"]
    assert second["error"] == {"name": "RuntimeError", "message": "two"}


async def test_the_request_line_of_a_long_url_fits_too() -> None:
    lines: list[bytes] = []
    config = {"backend": {"logging": {"format": "json", "level": "info", "maxLineLength": 2048}}}
    async with start_test_backend(
        features=[logger_factory(lines), failing_plugin()], config=config
    ) as backend:
        response = await backend.client.get("/api/flaky/" + "%22" * 3000)
        assert response.status_code == 404
    [request] = [entry for entry in entries(lines) if entry.get("type") == "incomingRequest"]
    assert request["status"] == 404
    assert "characters cut]" in request["url"]
    assert all(len(line) <= 2048 for line in lines)


def test_library_records_with_an_exception_are_counted_and_made_safe() -> None:
    import logging

    from backstage_backend_defaults.logger import StdlibLogBridge

    logger, lines = capture({"repeatInterval": "1h"})
    library = logging.getLogger("sqlalchemy.pool.test")
    library.propagate = False
    bridge = StdlibLogBridge(logger)
    library.addHandler(bridge)
    try:
        for _ in range(5):
            try:
                raise sa.exc.OperationalError(
                    "SELECT 1 WHERE token = :token", {"token": SECRET}, OSError("reset")
                )
            except sa.exc.DBAPIError:
                library.error("Exception during reset or similar", exc_info=True)
    finally:
        library.removeHandler(bridge)
    logger.sink.flush()
    first, summary = entries(lines)
    assert first["logger"] == "sqlalchemy.pool.test"
    assert "stack" in first["error"]
    assert summary["repeated"] == 4
    assert SECRET not in b"".join(lines).decode()
