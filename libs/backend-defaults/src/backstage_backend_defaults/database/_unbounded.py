"""A Postgres session without the statement limits, for work that may rightly take long.

Migrations build indexes over whole tables and wait on an advisory lock while another
replica migrates; the limits that keep requests from hanging (`statement_timeout` on the
server, the driver's own bound on each round trip) would cancel them part-way and fail the
plugin's start. The session gets its limits back before its connection returns to the pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["without_statement_limits"]


@asynccontextmanager
async def without_statement_limits(connection: AsyncConnection) -> AsyncIterator[None]:
    """No statement timeout on the server, no round-trip bound in the driver, while open."""
    if connection.dialect.name != "postgresql":
        yield
        return
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    # asyncpg takes a statement's bound from its connection's config when none is given
    # per call, and SQLAlchemy gives none
    config = driver._config
    driver._config = config._replace(command_timeout=None)
    try:
        await connection.exec_driver_sql("SET statement_timeout = 0")
        await connection.commit()
        yield
    finally:
        driver._config = config
        try:
            await connection.rollback()  # a failed transaction would refuse the RESET
            # RESET returns to the value the session started with (its connect settings)
            await connection.exec_driver_sql("RESET statement_timeout")
            await connection.commit()
        except Exception:
            await connection.invalidate()  # never back to the pool without its limits
