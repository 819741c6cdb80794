"""The memory store's own map: expiry, memory given back, and what it leaves unimported."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from backstage_backend_defaults.cache._stores import MemoryStore


async def test_an_entry_is_gone_at_its_expiry_and_kept_without_one() -> None:
    store = MemoryStore()
    await store.set("short", b"1", 0.05)
    await store.set("forever", b"2", None)
    assert await store.get("short") == b"1"
    await asyncio.sleep(0.08)
    assert await store.get("short") is None
    assert await store.get("forever") == b"2"


async def test_a_key_set_again_keeps_its_new_expiry_not_the_first() -> None:
    store = MemoryStore()
    await store.set("key", b"old", 0.05)
    await store.set("key", b"new", 60)
    await asyncio.sleep(0.08)
    await store.set("other", b"x", 60)  # drops what has expired by now
    assert await store.get("key") == b"new"
    await store.set("key", b"newest", None)
    await asyncio.sleep(0)
    assert await store.get("key") == b"newest"


async def test_expired_entries_are_dropped_even_if_never_read_again() -> None:
    store = MemoryStore()
    for index in range(1000):
        await store.set(f"key-{index}", b"x" * 100, 0.02)
    await asyncio.sleep(0.05)
    await store.set("last", b"y", 0.02)
    assert list(store._entries) == ["last"]
    assert len(store._expiries) == 1


async def test_delete_and_close_empty_it() -> None:
    store = MemoryStore()
    await store.set("a", b"1", 10)
    await store.set("b", b"2", None)
    await store.delete("a")
    await store.delete("missing")
    assert await store.get("a") is None
    await store.close()
    assert await store.get("b") is None
    assert not store._expiries


def test_the_memory_store_imports_no_network_client() -> None:
    # a fresh interpreter: this test process has imported them long ago
    code = (
        "import sys\n"
        "from backstage_backend_defaults.cache._stores import MemoryStore\n"
        "MemoryStore()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aiocache', 'redis', 'aiomcache', 'opentelemetry'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
