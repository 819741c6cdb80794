"""A transaction Postgres picks as a deadlock's victim is run again (`retry_on_deadlock`),
on a real deadlock: two transactions updating the same two rows in opposite orders."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from backstage_backend_plugin_api import BackendModule, DatabaseService, create_backend_module
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend
from backstage_plugin_catalog_backend import catalog_plugin
from backstage_plugin_catalog_backend._tables import locations
from backstage_plugin_catalog_backend.processing._deadlocks import retry_on_deadlock


def _database_probe(found: list[DatabaseService]) -> BackendModule:
    def register(env: Any) -> None:
        async def init(database: core.Database) -> None:
            found.append(database)

        env.register_init(init)

    return create_backend_module(plugin_id="catalog", module_id="deadlock-probe", register=register)


async def _cross(
    database: DatabaseService, first: str, second: str, both_hold_one: asyncio.Barrier
) -> int:
    """Update `first`, wait until the other side holds its row, then update `second`;
    returns how many attempts it took."""
    attempts = 0

    async def attempt() -> int:
        nonlocal attempts
        attempts += 1
        async with database.transaction() as connection:
            for index, row in enumerate((first, second)):
                await connection.execute(
                    sa.update(locations).where(locations.c.id == row).values(type="url")
                )
                if index == 0 and attempts == 1:
                    await both_hold_one.wait()
        return attempts

    return await retry_on_deadlock(attempt)


async def test_a_deadlock_victim_is_run_again(postgres_config: dict[str, Any]) -> None:
    found: list[DatabaseService] = []
    config = {
        "backend": {"database": postgres_config},
        "catalog": {"processingInterval": False},
    }
    async with start_test_backend(
        features=[catalog_plugin(), _database_probe(found)], config=config
    ):
        database = found[0]
        async with database.transaction() as connection:
            await connection.execute(
                sa.insert(locations),
                [
                    {"id": row, "type": "url", "target": row, "location_entity_ref": row}
                    for row in ("a", "b")
                ],
            )

        # Without the retry, Postgres breaks the deadlock by failing one of the two.
        barrier = asyncio.Barrier(2)

        async def once(first: str, second: str) -> None:
            async with database.transaction() as connection:
                await connection.execute(
                    sa.update(locations).where(locations.c.id == first).values(type="url")
                )
                await barrier.wait()
                await connection.execute(
                    sa.update(locations).where(locations.c.id == second).values(type="url")
                )

        outcomes = await asyncio.gather(once("a", "b"), once("b", "a"), return_exceptions=True)
        failures = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        assert len(failures) == 1
        assert isinstance(failures[0], sa.exc.DBAPIError)
        assert getattr(failures[0].orig, "sqlstate", None) == "40P01"

        # With it, both commit; the victim took a second attempt.
        barrier = asyncio.Barrier(2)
        attempts = await asyncio.gather(
            _cross(database, "a", "b", barrier), _cross(database, "b", "a", barrier)
        )
        assert sorted(attempts) == [1, 2]


async def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise sa.exc.DBAPIError("SELECT 1", None, Exception("not a deadlock"))

    with pytest.raises(sa.exc.DBAPIError):
        await retry_on_deadlock(failing)
    assert calls == 1
