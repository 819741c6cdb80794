"""Postgres plans every catalog query for the values it is given.

Drivers keep prepared statements, and after five runs Postgres may switch a statement to a
generic plan made without its parameter values. Catalog queries differ by orders of
magnitude in cost depending on the keys and values they filter on (`kind = 'component'`
matches a third of the catalog, `metadata.name = 'x'` one row), so a generic plan is often
several times slower than a custom one. Each connection is told to always plan for the
values at hand, which costs a planning step (well under a millisecond) per query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["prefer_custom_plans"]

_DONE = "catalog_custom_plans"


def prefer_custom_plans(engine: AsyncEngine) -> None:
    """On Postgres, set `plan_cache_mode = force_custom_plan` on each of the engine's
    connections, including those already pooled (once each, when next checked out)."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine.sync_engine, "checkout")
    def _custom_plans(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.get(_DONE):
            return
        # Straight on the driver's connection, outside any transaction: a SET made in one is
        # undone when it rolls back (as the pool does when a session ends without a commit).
        dbapi_connection.run_async(_force_custom_plans)
        record.info[_DONE] = True


async def _force_custom_plans(driver_connection: Any) -> None:
    await driver_connection.execute("SET plan_cache_mode = force_custom_plan")
