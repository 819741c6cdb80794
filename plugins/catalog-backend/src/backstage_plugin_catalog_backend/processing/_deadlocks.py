"""Retrying a transaction Postgres chose as a deadlock's victim (as Backstage's
`retryOnDeadlock`): a provider's write, a location's change and the processing loop's
writes touch the same rows in orders nobody can agree on beforehand."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import sqlalchemy as sa

__all__ = ["retry_on_deadlock"]

T = TypeVar("T")
_ATTEMPTS = 5
_DEADLOCK = "40P01"


def _is_deadlock(error: sa.exc.DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) == _DEADLOCK


async def retry_on_deadlock(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` (one whole transaction: it must have no effect outside the database),
    again when it was a deadlock's victim, up to 5 times, after a short random pause."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return await work()
        except sa.exc.DBAPIError as error:
            if attempt == _ATTEMPTS or not _is_deadlock(error):
                raise
        await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")
