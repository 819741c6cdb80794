"""The in-memory cache fake: namespaces, TTLs on a monotonic clock, JSON values."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from backstage_backend_test_utils import InMemoryCache, InMemoryCacheStore, mock_services
from backstage_common.errors import InputError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def test_ttl_is_honoured() -> None:
    clock = FakeClock()
    cache = mock_services.cache(clock=clock)
    await cache.set("short", "value", ttl=timedelta(seconds=10))
    await cache.set("forever", "value")
    clock.advance(9.9)
    assert await cache.get("short") == "value"
    clock.advance(0.1)
    assert await cache.get("short") is None
    clock.advance(10_000)
    assert await cache.get("forever") == "value"


async def test_default_ttl_and_with_options() -> None:
    clock = FakeClock()
    cache = mock_services.cache(clock=clock, default_ttl=timedelta(seconds=5))
    longer = cache.with_options(default_ttl=timedelta(seconds=60))
    await cache.set("a", 1)
    await longer.set("b", 2)
    await cache.set("c", 3, ttl=timedelta(seconds=120))
    clock.advance(30)
    assert await cache.get("a") is None
    assert await cache.get("b") == 2  # same namespace, another default
    assert await longer.get("c") == 3
    clock.advance(60)
    assert await cache.get("b") is None
    assert await cache.get("c") == 3


async def test_ttl_runs_on_the_real_monotonic_clock_by_default() -> None:
    cache = mock_services.cache()
    await cache.set("key", True, ttl=timedelta(milliseconds=20))
    assert await cache.get("key") is True
    await asyncio.sleep(0.03)
    assert await cache.get("key") is None


async def test_namespaces_keep_plugins_apart_in_one_store() -> None:
    store = InMemoryCacheStore()
    one = InMemoryCache(store, namespace="one")
    two = InMemoryCache(store, namespace="two")
    await one.set("key", "from one")
    await two.set("key", "from two")
    assert await one.get("key") == "from one"
    assert await two.get("key") == "from two"
    await one.delete("key")
    assert await one.get("key") is None
    assert await two.get("key") == "from two"
    assert store.keys() == ["two:key"]


async def test_values_are_stored_as_json_copies() -> None:
    cache = mock_services.cache()
    value: dict[str, object] = {"list": [1, 2], "nested": {"ok": True}}
    await cache.set("key", value)  # type: ignore[arg-type]
    value["list"] = []
    assert await cache.get("key") == {"list": [1, 2], "nested": {"ok": True}}
    with pytest.raises(InputError, match="JSON serializable"):
        await cache.set("bad", {"when": object()})  # type: ignore[dict-item]
