"""Whether a plugin's database answers now: a readiness contribution of the database service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from backstage_common.errors import ServiceUnavailableError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from backstage_backend_defaults.database._settings import PluginDatabaseSettings

__all__ = ["PROBE_TIMEOUT_SECONDS", "probe"]

PROBE_TIMEOUT_SECONDS = 2.0
"""How long a probe waits for the database (a blackholed server must not hang readiness)."""


def _reason(error: BaseException) -> str:
    if isinstance(error, ServiceUnavailableError) and error.__cause__ is not None:
        error = error.__cause__  # the log line of readiness names what actually failed
    if isinstance(error, TimeoutError):
        return f"no answer within {PROBE_TIMEOUT_SECONDS:g} s"
    cause = getattr(error, "orig", None) or error.__cause__ or error
    return f"{type(cause).__name__}: {cause}"


async def probe(
    engine_for: Callable[[PluginDatabaseSettings], Awaitable[AsyncEngine]],
    probe_engine_for: Callable[[PluginDatabaseSettings], AsyncEngine],
    settings: PluginDatabaseSettings,
) -> str | None:
    """None when the plugin's database answers `SELECT 1`, else what is wrong.

    The probe has a connection of its own (`probe_engine_for`): through the plugin's pool
    it would wait behind the requests, and report a database that is only busy as down.
    A plugin whose engine could not be created (its database was down when first used) is
    tried again here, so readiness recovers as soon as the database does.
    """
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            await engine_for(settings)
            async with probe_engine_for(settings).connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as error:
        return (
            f"Database of plugin '{settings.plugin_id}' ({settings.describe()}) is "
            f"unreachable: {_reason(error)}"
        )
    return None
