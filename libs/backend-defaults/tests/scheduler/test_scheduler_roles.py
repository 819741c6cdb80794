"""`backend.worker.role`: a serving worker registers global tasks and leaves their runs to
a process that runs background work; local tasks run everywhere."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from backstage_backend_defaults.scheduler import (
    PluginTaskScheduler,
    read_scheduler_options,
    scheduler_service_factory,
)
from backstage_backend_plugin_api import PluginRegistrationPoints, create_backend_plugin
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend
from backstage_common.config import Config

FAST = {"pollInterval": "50ms", "janitorInterval": "100ms", "abortGracePeriod": "500ms"}


def test_only_serving_workers_leave_global_tasks_to_others() -> None:
    def runs_global(role: str | None) -> bool:
        worker = {} if role is None else {"worker": {"role": role}}
        return read_scheduler_options(Config.from_data({"backend": worker})).run_global_tasks

    assert runs_global(None)
    assert runs_global("all")
    assert runs_global("background")
    assert not runs_global("serve")


class Runs:
    """Who ran which task, and a way to wait for a state of it."""

    def __init__(self) -> None:
        self.global_runs: list[str] = []
        self.local_runs: list[str] = []
        self._changed = asyncio.Event()

    def ran(self, runs: list[str], name: str) -> None:
        runs.append(name)
        self._changed.set()

    async def until(self, check: Callable[[], bool]) -> None:
        async with asyncio.timeout(30):
            while not check():
                self._changed.clear()
                await self._changed.wait()


def tasks_plugin(name: str, runs: Runs) -> Any:
    async def sync(abort: asyncio.Event) -> None:
        runs.ran(runs.global_runs, name)

    async def warm(abort: asyncio.Event) -> None:
        runs.ran(runs.local_runs, name)

    def register(env: PluginRegistrationPoints) -> None:
        async def init(scheduler: core.Scheduler) -> None:
            await scheduler.schedule_task(
                id="sync", fn=sync, frequency=timedelta(hours=1), timeout="PT1M"
            )
            await scheduler.schedule_task(
                id="warm", fn=warm, frequency=timedelta(hours=1), timeout="PT1M", scope="local"
            )

        env.register_init(init)

    return create_backend_plugin(plugin_id="tasks", register=register)


async def test_a_serving_worker_runs_no_global_task_but_its_triggers_reach_the_runner(
    postgres_config: dict[str, Any],
) -> None:
    runs = Runs()
    async with AsyncExitStack() as stack:
        backends = {}
        for name in ("serve", "background"):
            config = {
                "backend": {
                    "database": postgres_config,
                    "scheduler": FAST,
                    "worker": {"role": name},
                }
            }
            backends[name] = await stack.enter_async_context(
                start_test_backend(
                    features=[scheduler_service_factory, tasks_plugin(name, runs)],
                    config=config,
                )
            )
        serving = await backends["serve"].get_service(core.scheduler, "tasks")
        assert isinstance(serving, PluginTaskScheduler)
        await runs.until(lambda: bool(runs.global_runs) and len(runs.local_runs) == 2)
        await asyncio.sleep(0.5)  # ten polls of each: the task is not due again for an hour
        assert runs.global_runs == ["background"]
        assert sorted(runs.local_runs) == ["background", "serve"]
        tasks = await serving.describe_tasks()
        assert {task["taskId"] for task in tasks} == {"sync", "warm"}
        # a trigger through the serving worker is a row the background worker acts on
        await serving.trigger_task("sync")
        await runs.until(lambda: len(runs.global_runs) == 2)
        assert runs.global_runs == ["background", "background"]
