"""Shutdown ends within `backend.lifecycle.shutdownTimeout`, whatever a shutdown hook waits
for: a hook still running at the deadline is cancelled, and the hooks after it still run."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from backstage_backend_defaults.lifecycle import BackendLifecycle, PluginLifecycle
from backstage_backend_test_utils import mock_services


async def test_a_hanging_shutdown_hook_is_cancelled_at_the_deadline() -> None:
    logger = mock_services.root_logger()
    root = BackendLifecycle(
        logger, shutdown_delay=timedelta(0), shutdown_timeout=timedelta(seconds=0.5)
    )
    plugin = PluginLifecycle(logger, root=root)
    events: list[str] = []

    async def hang() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("hang cancelled")
            raise

    async def release() -> None:
        events.append("release ran")

    root.add_shutdown_hook(release)
    plugin.add_shutdown_hook(hang)
    started = time.monotonic()
    await root.before_shutdown()
    await plugin.shutdown()
    await root.shutdown()
    assert time.monotonic() - started < 3
    assert events == ["hang cancelled", "release ran"]
    warnings = [entry.message for entry in logger.entries if entry.level == "warn"]
    assert warnings == [
        "Shutdown hook did not finish within backend.lifecycle.shutdownTimeout and was cancelled"
    ]


async def test_without_a_deadline_hooks_run_to_the_end() -> None:
    logger = mock_services.root_logger()
    root = BackendLifecycle(logger, shutdown_delay=timedelta(0))
    events: list[str] = []

    async def slow() -> None:
        await asyncio.sleep(0.2)
        events.append("slow finished")

    root.add_shutdown_hook(slow)
    await root.before_shutdown()
    await root.shutdown()
    assert events == ["slow finished"]


async def test_deadline_callbacks_run_when_the_deadline_passes() -> None:
    logger = mock_services.root_logger()
    root = BackendLifecycle(
        logger, shutdown_delay=timedelta(0), shutdown_timeout=timedelta(seconds=0.3)
    )
    passed = asyncio.Event()
    root.add_shutdown_deadline_callback(passed.set)
    started = time.monotonic()
    await root.before_shutdown()
    assert not passed.is_set()
    await asyncio.wait_for(passed.wait(), 5)
    assert time.monotonic() - started >= 0.25
