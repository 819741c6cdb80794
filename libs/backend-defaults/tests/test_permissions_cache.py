"""The per-token decision cache of core.permissions: expiry with the token, a size bound,
and failures never remembered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from backstage_backend_defaults.permissions import DecisionCache


async def test_entries_expire_with_their_token_and_the_size_is_bounded() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cache = DecisionCache(max_entries=2, clock=lambda: now)
    loop = asyncio.get_running_loop()
    first, second, third = (loop.create_future() for _ in range(3))
    cache.put("a", first, now + timedelta(seconds=10))
    cache.put("b", second, now + timedelta(seconds=20))
    assert cache.get("a") is first  # now the most recently used
    cache.put("c", third, now + timedelta(seconds=20))
    assert (len(cache), cache.get("b"), cache.get("a")) == (2, None, first)
    now += timedelta(seconds=10)  # a's token expires
    assert cache.get("a") is None
    assert cache.get("c") is third
    cache.put("d", loop.create_future(), now - timedelta(seconds=1))  # already expired
    assert cache.get("d") is None


async def test_failed_decisions_are_not_remembered() -> None:
    cache = DecisionCache(max_entries=10)
    future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    cache.put("a", future, datetime.now(UTC) + timedelta(hours=1))
    future.set_exception(RuntimeError("the permission plugin is down"))
    future.exception()
    assert cache.get("a") is None
