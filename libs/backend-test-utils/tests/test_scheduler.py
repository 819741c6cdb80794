"""The scheduler fake: records tasks, runs them when triggered and once at startup."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from backstage_backend_plugin_api import (
    CronFrequency,
    ManualTrigger,
    PluginRegistrationPoints,
    SchedulerServiceTaskDescriptor,
    SchedulerServiceTaskScheduleDefinition,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import MockScheduler, mock_services, start_test_backend
from backstage_common.errors import ConflictError, InputError, NotFoundError

EVERY_MINUTE = SchedulerServiceTaskScheduleDefinition(
    frequency=timedelta(minutes=1), timeout=timedelta(seconds=30), scope="local"
)
MANUAL = SchedulerServiceTaskScheduleDefinition(
    frequency=ManualTrigger(), timeout=timedelta(seconds=30)
)


async def test_tasks_are_recorded_with_their_settings() -> None:
    scheduler = mock_services.scheduler()

    async def task(abort: asyncio.Event) -> None:
        return None

    await scheduler.schedule_task(id="local", fn=task, schedule=EVERY_MINUTE)
    runner = scheduler.create_scheduled_task_runner(
        SchedulerServiceTaskScheduleDefinition(
            frequency=CronFrequency("*/5 * * * *"),
            timeout=timedelta(hours=1, minutes=30),
            initial_delay=timedelta(seconds=5),
        )
    )
    await runner.run(id="cron", fn=task)
    assert await scheduler.get_scheduled_tasks() == [
        SchedulerServiceTaskDescriptor(
            "local", "local", {"version": 2, "cadence": "PT1M", "timeoutAfterDuration": "PT30S"}
        ),
        SchedulerServiceTaskDescriptor(
            "cron",
            "global",
            {
                "version": 2,
                "cadence": "*/5 * * * *",
                "timeoutAfterDuration": "PT1H30M",
                "initialDelayDuration": "PT5S",
            },
        ),
    ]
    with pytest.raises(InputError):
        await scheduler.schedule_task(id="", fn=task, schedule=EVERY_MINUTE)


async def test_trigger_runs_the_task_and_unknown_ids_are_not_found() -> None:
    scheduler = mock_services.scheduler()
    runs: list[int] = []

    async def task(abort: asyncio.Event) -> None:
        runs.append(1)

    await scheduler.schedule_task(id="t", fn=task, schedule=MANUAL)
    await scheduler.trigger_task("t")
    await scheduler.trigger_task("t")
    assert runs == [1, 1]
    assert scheduler.run_count("t") == 2
    with pytest.raises(NotFoundError):
        await scheduler.trigger_task("missing")
    with pytest.raises(NotFoundError):
        await scheduler.cancel_task("missing")


async def test_cancel_aborts_a_running_task_and_conflicts_when_idle() -> None:
    scheduler = mock_services.scheduler()
    started = asyncio.Event()

    async def task(abort: asyncio.Event) -> None:
        started.set()
        await abort.wait()

    await scheduler.schedule_task(id="t", fn=task, schedule=MANUAL)
    with pytest.raises(ConflictError):
        await scheduler.cancel_task("t")
    run = asyncio.create_task(scheduler.trigger_task("t"))
    await started.wait()
    with pytest.raises(ConflictError):
        await scheduler.trigger_task("t")
    await scheduler.cancel_task("t")
    await asyncio.wait_for(run, 1)
    with pytest.raises(ConflictError):
        await scheduler.cancel_task("t")


async def test_failures_are_kept_and_logged_not_raised() -> None:
    logger = mock_services.root_logger()
    scheduler = MockScheduler("p", logger=logger)

    async def task(abort: asyncio.Event) -> None:
        raise RuntimeError("broken")

    await scheduler.schedule_task(id="t", fn=task, schedule=MANUAL)
    await scheduler.trigger_task("t")
    assert isinstance(scheduler.last_error("t"), RuntimeError)
    assert logger.messages("error") == ["Task t failed, broken"]


async def test_startup_runs_recurring_tasks_once_and_skips_manual_and_delayed() -> None:
    runs: list[str] = []

    def register(reg: PluginRegistrationPoints) -> None:
        async def init(scheduler: core.Scheduler) -> None:
            for task_id, schedule in (
                ("local", EVERY_MINUTE),
                (
                    "global",
                    SchedulerServiceTaskScheduleDefinition(
                        frequency=CronFrequency("0 * * * *"), timeout=timedelta(seconds=5)
                    ),
                ),
                ("manual", MANUAL),
                (
                    "delayed",
                    SchedulerServiceTaskScheduleDefinition(
                        frequency=timedelta(minutes=1),
                        timeout=timedelta(seconds=5),
                        initial_delay=timedelta(minutes=1),
                    ),
                ),
            ):

                async def task(abort: asyncio.Event, task_id: str = task_id) -> None:
                    runs.append(task_id)

                await scheduler.schedule_task(id=task_id, fn=task, schedule=schedule)

        reg.register_init(init)

    plugin = create_backend_plugin(plugin_id="tasks", register=register)
    async with start_test_backend(features=[plugin]):
        assert sorted(runs) == ["global", "local"]
    runs.clear()
    factory = mock_services.scheduler_factory(
        include_manual_tasks_on_startup=True, include_initial_delayed_tasks_on_startup=True
    )
    async with start_test_backend(features=[plugin, factory]):
        assert sorted(runs) == ["delayed", "global", "local", "manual"]
    runs.clear()
    skip = mock_services.scheduler_factory(skip_task_run_on_startup=True)
    async with start_test_backend(features=[plugin, skip]):
        assert runs == []


async def test_shutdown_aborts_running_tasks() -> None:
    seen: list[bool] = []
    started = asyncio.Event()

    def register(reg: PluginRegistrationPoints) -> None:
        async def init(scheduler: core.Scheduler, lifecycle: core.Lifecycle) -> None:
            async def task(abort: asyncio.Event) -> None:
                started.set()
                await abort.wait()
                seen.append(abort.is_set())

            await scheduler.schedule_task(id="long", fn=task, schedule=MANUAL)

        reg.register_init(init)

    plugin = create_backend_plugin(plugin_id="tasks", register=register)
    async with start_test_backend(features=[plugin]) as test:
        scheduler = await test.get_service(core.scheduler, "tasks")
        run = asyncio.create_task(scheduler.trigger_task("long"))
        await started.wait()
    await asyncio.wait_for(run, 1)
    assert seen == [True]


async def test_a_schedule_can_be_given_as_separate_fields() -> None:
    scheduler = mock_services.scheduler()

    async def task(abort: asyncio.Event) -> None:
        return None

    await scheduler.schedule_task(
        id="fields", fn=task, frequency="*/5 * * * *", timeout="PT1M", scope="local"
    )
    assert await scheduler.get_scheduled_tasks() == [
        SchedulerServiceTaskDescriptor(
            "fields",
            "local",
            {"version": 2, "cadence": "*/5 * * * *", "timeoutAfterDuration": "PT1M"},
        )
    ]
    with pytest.raises(InputError, match="Invalid cron expression at 'frequency'"):
        await scheduler.schedule_task(id="bad", fn=task, frequency="* * * *", timeout="PT1M")
