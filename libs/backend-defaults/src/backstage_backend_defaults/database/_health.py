"""Whether a plugin's database answers now: a readiness contribution of the database service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backstage_backend_defaults.database._settings import PluginDatabaseSettings

__all__ = ["PROBE_TIMEOUT_SECONDS", "probe"]

PROBE_TIMEOUT_SECONDS = 2.0
"""How long a probe waits for the database (a blackholed server must not hang readiness)."""


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {PROBE_TIMEOUT_SECONDS:g} s"
    cause = getattr(error, "orig", None) or error.__cause__ or error
    return f"{type(cause).__name__}: {cause}"


async def probe(
    engine_for: Callable[[PluginDatabaseSettings], Awaitable[AsyncEngine]],
    settings: PluginDatabaseSettings,
) -> str | None:
    """None when the plugin's database answers `SELECT 1`, else what is wrong.

    A plugin whose engine could not be created (its database was down when first used) is
    tried again here, so readiness recovers as soon as the database does.
    """
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            engine = await engine_for(settings)
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as error:
        return (
            f"Database of plugin '{settings.plugin_id}' ({settings.describe()}) is "
            f"unreachable: {_reason(error)}"
        )
    return None
