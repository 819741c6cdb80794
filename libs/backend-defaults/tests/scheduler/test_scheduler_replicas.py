"""Replicas sharing one Postgres: whole backends, and a replica process killed mid-run."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from backstage_backend_defaults.database import DatabaseManager
from backstage_backend_defaults.scheduler import PluginTaskScheduler, scheduler_service_factory
from backstage_backend_defaults.scheduler._store import TaskStore
from backstage_backend_plugin_api import (
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import CapturingLogger, start_test_backend
from backstage_common.config import Config

T = TypeVar("T")
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
FAST = {"pollInterval": "50ms", "janitorInterval": "100ms", "abortGracePeriod": "500ms"}


async def within(awaitable: Awaitable[T], seconds: float = 30) -> T:
    return await asyncio.wait_for(awaitable, seconds)


def tasks_plugin(index: int, global_runs: list[int], local_ran: asyncio.Event) -> Any:
    async def sync(abort: asyncio.Event) -> None:
        global_runs.append(index)

    async def warm(abort: asyncio.Event) -> None:
        local_ran.set()

    def register(env: PluginRegistrationPoints) -> None:
        async def init(scheduler: core.Scheduler) -> None:
            await scheduler.schedule_task(id="sync", fn=sync, frequency=HOUR, timeout=MINUTE)
            await scheduler.schedule_task(
                id="warm", fn=warm, frequency=HOUR, timeout=MINUTE, scope="local"
            )

        env.register_init(init)

    return create_backend_plugin(plugin_id="tasks", register=register)


async def test_three_backends_on_one_postgres_run_a_global_task_once(
    postgres_config: dict[str, Any],
) -> None:
    config = {"backend": {"database": postgres_config, "scheduler": FAST}}
    global_runs: list[int] = []
    local_ran = [asyncio.Event() for _ in range(3)]
    async with AsyncExitStack() as stack:
        backends = [
            await stack.enter_async_context(
                start_test_backend(
                    features=[
                        scheduler_service_factory,
                        tasks_plugin(index, global_runs, local_ran[index]),
                    ],
                    config=config,
                )
            )
            for index in range(3)
        ]
        schedulers: list[PluginTaskScheduler] = []
        for backend in backends:
            scheduler = await backend.get_service(core.scheduler, "tasks")
            assert isinstance(scheduler, PluginTaskScheduler)
            schedulers.append(scheduler)

        def worker(index: int) -> Any:
            found = schedulers[index].global_worker("sync")
            assert found is not None
            return found

        # local tasks run in every backend
        await within(asyncio.gather(*(event.wait() for event in local_ran)))
        while not global_runs:
            await within(worker(0).polled(1))
        await within(worker(global_runs[0]).polled(1))  # its run is released
        await within(asyncio.gather(*(worker(index).polled(3) for index in range(3))))
        assert len(global_runs) == 1

    # the backends stopped their schedulers: no lease is left behind
    manager = DatabaseManager(Config.from_data({"backend": {"database": postgres_config}}))
    try:
        store = TaskStore(manager.for_plugin("tasks"), postgres=True)
        assert (await store.task_states())["sync"]["status"] == "idle"
    finally:
        await manager.close()


async def test_a_killed_replica_process_loses_its_run_to_another_after_the_timeout(
    postgres_cluster: Any,
) -> None:
    script = Path(__file__).with_name("scheduler_process.py")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        json.dumps(postgres_cluster.database_config),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert await within(process.stdout.readline()) == b"started\n"
    finally:
        process.kill()
        await process.wait()

    logger = CapturingLogger("warn")
    survivor = postgres_cluster.scheduler(logger=logger)
    took_over = asyncio.Event()

    async def work(abort: asyncio.Event) -> None:
        took_over.set()

    await survivor.schedule_task(
        id="lease", fn=work, frequency=HOUR, timeout=timedelta(milliseconds=500)
    )
    await within(took_over.wait())
    worker = survivor.global_worker("lease")
    assert worker is not None
    await within(worker.polled(1))
    state = (await (await survivor.get_store()).task_states())["lease"]
    assert state["status"] == "idle"
    assert "lastRunError" not in state
    assert "Task timed out and was lost: lease" in [entry.message for entry in logger.entries]


async def test_stopping_a_backend_aborts_its_run_and_frees_the_lease(
    postgres_config: dict[str, Any],
) -> None:
    started = asyncio.Event()
    saw_abort = asyncio.Event()

    async def long_run(abort: asyncio.Event) -> None:
        started.set()
        await abort.wait()
        saw_abort.set()

    def register(env: PluginRegistrationPoints) -> None:
        async def init(scheduler: core.Scheduler) -> None:
            await scheduler.schedule_task(id="long", fn=long_run, frequency=HOUR, timeout=HOUR)

        env.register_init(init)

    plugin = create_backend_plugin(plugin_id="tasks", register=register)
    config = {"backend": {"database": postgres_config, "scheduler": FAST}}
    async with start_test_backend(features=[scheduler_service_factory, plugin], config=config):
        await within(started.wait())
    assert saw_abort.is_set()

    manager = DatabaseManager(Config.from_data({"backend": {"database": postgres_config}}))
    try:
        store = TaskStore(manager.for_plugin("tasks"), postgres=True)
        state = (await store.task_states())["long"]
    finally:
        await manager.close()
    # released, and still due: the next replica to poll runs it at once
    assert state["status"] == "idle"
    assert state["startsAt"] <= state["lastRunEndedAt"]
    assert "aborted at shutdown" in state["lastRunError"]
