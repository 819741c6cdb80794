"""The default scheduler over SQLite in memory and Postgres: schedules, replicas, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import pytest
from backstage_backend_defaults.scheduler import PluginTaskScheduler
from backstage_backend_plugin_api import (
    CronFrequency,
    ManualTrigger,
    SchedulerServiceTaskDescriptor,
    SchedulerServiceTaskScheduleDefinition,
    read_scheduler_service_task_schedule_definition_from_config,
)
from backstage_backend_test_utils import CapturingLogger
from backstage_common.config import Config
from backstage_common.errors import ConflictError, InputError, NotFoundError

T = TypeVar("T")
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


async def within(awaitable: Awaitable[T], seconds: float = 30) -> T:
    """An event-based wait, bounded generously so a loaded host never fails it."""
    return await asyncio.wait_for(awaitable, seconds)


async def polls(scheduler: PluginTaskScheduler, task_id: str, times: int) -> None:
    worker = scheduler.global_worker(task_id)
    assert worker is not None
    await within(worker.polled(times))


async def state_of(scheduler: PluginTaskScheduler, task_id: str) -> dict[str, Any]:
    return (await (await scheduler.get_store()).task_states())[task_id]


def kill(scheduler: PluginTaskScheduler) -> None:
    """What a crashed replica leaves behind: its loops end, its leases stay held."""
    scheduler._stopped = True
    for worker in scheduler._global.values():
        assert worker._loop is not None
        worker._loop.cancel()
    if scheduler._janitor is not None:
        scheduler._janitor.cancel()


class Recorder:
    """A task body that records its runs and signals each one."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self._signals: list[asyncio.Event] = []

    async def body(self, name: str, abort: asyncio.Event) -> None:
        self.runs.append(name)
        for signal in self._signals:
            signal.set()

    def fn(self, name: str = "run") -> Any:
        return partial(self.body, name)

    async def next_run(self) -> None:
        signal = asyncio.Event()
        self._signals.append(signal)
        try:
            await within(signal.wait())
        finally:
            self._signals.remove(signal)


async def test_every_frequency_form_and_the_task_descriptors(cluster: Any) -> None:
    scheduler = cluster.scheduler()
    recorder = Recorder()
    await scheduler.schedule_task(
        id="cron-string", fn=recorder.fn("cron-string"), frequency="*/5 * * * *", timeout="PT1M"
    )
    await scheduler.schedule_task(
        id="cron", fn=recorder.fn("cron"), frequency=CronFrequency("0 3 * * *"), timeout=MINUTE
    )
    await scheduler.schedule_task(
        id="iso",
        fn=recorder.fn("iso"),
        frequency="PT5M",
        timeout="PT30S",
        initial_delay="PT1M",
        scope="local",
    )
    await scheduler.schedule_task(
        id="delta", fn=recorder.fn("delta"), frequency=HOUR, timeout=MINUTE
    )
    await scheduler.schedule_task(
        id="manual", fn=recorder.fn("manual"), frequency=ManualTrigger(), timeout=MINUTE
    )
    runner = scheduler.create_scheduled_task_runner(
        SchedulerServiceTaskScheduleDefinition(
            frequency=ManualTrigger(), timeout=MINUTE, scope="local"
        )
    )
    await runner.run(id="runner", fn=recorder.fn("runner"))

    assert await scheduler.get_scheduled_tasks() == [
        SchedulerServiceTaskDescriptor(
            "cron-string",
            "global",
            {"version": 2, "cadence": "*/5 * * * *", "timeoutAfterDuration": "PT1M"},
        ),
        SchedulerServiceTaskDescriptor(
            "cron",
            "global",
            {"version": 2, "cadence": "0 3 * * *", "timeoutAfterDuration": "PT1M"},
        ),
        SchedulerServiceTaskDescriptor(
            "iso",
            "local",
            {
                "version": 2,
                "cadence": "PT5M",
                "timeoutAfterDuration": "PT30S",
                "initialDelayDuration": "PT1M",
            },
        ),
        SchedulerServiceTaskDescriptor(
            "delta", "global", {"version": 2, "cadence": "PT1H", "timeoutAfterDuration": "PT1M"}
        ),
        SchedulerServiceTaskDescriptor(
            "manual", "global", {"version": 2, "cadence": "manual", "timeoutAfterDuration": "PT1M"}
        ),
        SchedulerServiceTaskDescriptor(
            "runner", "local", {"version": 2, "cadence": "manual", "timeoutAfterDuration": "PT1M"}
        ),
    ]
    # the duration task runs at once; manual ones only when triggered (the cron tasks
    # may run too, when the test happens to cross one of their times)
    await polls(scheduler, "delta", 2)
    assert recorder.runs.count("delta") == 1
    assert "startsAt" not in await state_of(scheduler, "manual")
    for task_id in ("manual", "runner"):
        assert task_id not in recorder.runs
        await scheduler.trigger_task(task_id)
        while task_id not in recorder.runs:
            await recorder.next_run()
    assert "iso" not in recorder.runs


async def test_invalid_schedules_are_input_errors_naming_the_field(cluster: Any) -> None:
    scheduler = cluster.scheduler()
    fn = Recorder().fn()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"frequency": "*/5 * * *", "timeout": MINUTE}, "frequency"),
        ({"frequency": "61 * * * *", "timeout": MINUTE}, "frequency"),
        ({"frequency": CronFrequency("every day"), "timeout": MINUTE}, "frequency.cron"),
        ({"frequency": "PT5X", "timeout": MINUTE}, "frequency"),
        ({"frequency": HOUR, "timeout": "soon"}, "timeout"),
        ({"frequency": HOUR, "timeout": timedelta(0)}, "timeout"),
        ({"frequency": HOUR, "timeout": MINUTE, "initial_delay": "-PT1M"}, "initialDelay"),
        ({"frequency": HOUR, "timeout": MINUTE, "scope": "cluster"}, "scope"),
    ]
    for fields, key in cases:
        with pytest.raises(InputError, match=f"^Invalid schedule for task 't': .* at '{key}'"):
            await scheduler.schedule_task(id="t", fn=fn, **fields)
    with pytest.raises(InputError, match="'timeout' is required"):
        await scheduler.schedule_task(id="t", fn=fn, frequency=HOUR)
    with pytest.raises(InputError, match="not a valid task ID"):
        await scheduler.schedule_task(id=" ", fn=fn, frequency=HOUR, timeout=MINUTE)
    await scheduler.schedule_task(id="t", fn=fn, frequency=HOUR, timeout=MINUTE, scope="local")
    with pytest.raises(ConflictError, match="already scheduled"):
        await scheduler.schedule_task(id="t", fn=fn, frequency=HOUR, timeout=MINUTE)
    assert [task.id for task in await scheduler.get_scheduled_tasks()] == ["t"]


async def test_trigger_and_cancel_errors(cluster: Any) -> None:
    scheduler = cluster.scheduler()
    started = asyncio.Event()
    aborted = asyncio.Event()

    async def long_run(abort: asyncio.Event) -> None:
        started.set()
        await abort.wait()
        aborted.set()

    for scope in ("global", "local"):
        started.clear()
        aborted.clear()
        task_id = f"{scope}-task"
        await scheduler.schedule_task(
            id=task_id, fn=long_run, frequency=ManualTrigger(), timeout=HOUR, scope=scope
        )
        with pytest.raises(ConflictError, match="is not running"):
            await scheduler.cancel_task(task_id)
        await scheduler.trigger_task(task_id)
        await within(started.wait())
        with pytest.raises(ConflictError, match="is currently running"):
            await scheduler.trigger_task(task_id)
        await scheduler.cancel_task(task_id)
        await within(aborted.wait())
    for act in (scheduler.trigger_task, scheduler.cancel_task):
        with pytest.raises(NotFoundError, match="Task missing does not exist"):
            await act("missing")


async def test_a_global_task_runs_once_per_period_across_three_replicas(cluster: Any) -> None:
    replicas = [cluster.scheduler() for _ in range(3)]
    recorder = Recorder()
    for index, replica in enumerate(replicas):
        await replica.schedule_task(
            id="sync", fn=recorder.fn(f"replica-{index}"), frequency=HOUR, timeout=MINUTE
        )
    if not recorder.runs:
        await recorder.next_run()
    runner = replicas[int(recorder.runs[0].removeprefix("replica-"))]
    await polls(runner, "sync", 1)  # its run is released
    await within(asyncio.gather(*(polls(replica, "sync", 3) for replica in replicas)))
    assert len(recorder.runs) == 1
    state = await state_of(replicas[0], "sync")
    assert state["status"] == "idle"
    assert state["startsAt"] > state["lastRunEndedAt"]
    assert "lastRunError" not in state


async def test_a_trigger_runs_a_global_task_once_across_replicas(cluster: Any) -> None:
    replicas = [cluster.scheduler() for _ in range(3)]
    recorder = Recorder()
    for index, replica in enumerate(replicas):
        await replica.schedule_task(
            id="manual",
            fn=recorder.fn(f"replica-{index}"),
            frequency=ManualTrigger(),
            timeout=MINUTE,
        )
    for round_number in range(1, 4):
        await replicas[round_number % 3].trigger_task("manual")
        await recorder.next_run()
        runner = replicas[int(recorder.runs[-1].removeprefix("replica-"))]
        await polls(runner, "manual", 1)
        await within(asyncio.gather(*(polls(replica, "manual", 2) for replica in replicas)))
        assert len(recorder.runs) == round_number


async def test_local_tasks_run_in_every_replica(cluster: Any) -> None:
    replicas = [cluster.scheduler() for _ in range(3)]
    ran = [asyncio.Event() for _ in replicas]

    async def mark(index: int, abort: asyncio.Event) -> None:
        ran[index].set()

    for index, replica in enumerate(replicas):
        await replica.schedule_task(
            id="cache-warm", fn=partial(mark, index), frequency=HOUR, timeout=MINUTE, scope="local"
        )
    await within(asyncio.gather(*(event.wait() for event in ran)))


async def test_a_run_abandoned_by_a_dead_replica_is_taken_over_after_its_timeout(
    cluster: Any,
) -> None:
    dead = cluster.scheduler()
    started = asyncio.Event()

    async def hang(abort: asyncio.Event) -> None:
        started.set()
        await asyncio.Event().wait()

    await dead.schedule_task(id="t", fn=hang, frequency=HOUR, timeout=timedelta(milliseconds=500))
    await within(started.wait())
    kill(dead)

    logger = CapturingLogger("warn")
    survivor = cluster.scheduler(logger=logger)
    recorder = Recorder()
    await survivor.schedule_task(
        id="t", fn=recorder.fn(), frequency=HOUR, timeout=timedelta(milliseconds=500)
    )
    await recorder.next_run()
    assert recorder.runs == ["run"]
    assert "Task timed out and was lost: t" in [entry.message for entry in logger.entries]


async def test_shutdown_aborts_runs_and_releases_their_leases(cluster: Any) -> None:
    first = cluster.scheduler()
    started = {"cooperative": asyncio.Event(), "stubborn": asyncio.Event()}
    saw_abort = asyncio.Event()

    async def cooperative(abort: asyncio.Event) -> None:
        started["cooperative"].set()
        await abort.wait()
        saw_abort.set()

    async def stubborn(abort: asyncio.Event) -> None:
        started["stubborn"].set()
        await asyncio.sleep(3600)

    await first.schedule_task(id="cooperative", fn=cooperative, frequency=HOUR, timeout=HOUR)
    await first.schedule_task(id="stubborn", fn=stubborn, frequency=HOUR, timeout=HOUR)
    await within(asyncio.gather(*(event.wait() for event in started.values())))
    await within(first.shutdown())
    assert saw_abort.is_set()

    # Both leases are free and both runs still due: another replica runs them at once,
    # without waiting for their hour-long timeouts.
    second = cluster.scheduler()
    recorder = Recorder()
    await second.schedule_task(id="cooperative", fn=recorder.fn("a"), frequency=HOUR, timeout=HOUR)
    await second.schedule_task(id="stubborn", fn=recorder.fn("b"), frequency=HOUR, timeout=HOUR)
    while len(recorder.runs) < 2:
        await recorder.next_run()
    assert sorted(recorder.runs) == ["a", "b"]


async def test_a_failing_task_is_logged_with_its_id_and_keeps_its_schedule(cluster: Any) -> None:
    logger = CapturingLogger("warn")
    scheduler = cluster.scheduler(logger=logger)
    failures = {"global": 0, "local": 0}
    twice = {scope: asyncio.Event() for scope in failures}

    async def fail(scope: str, abort: asyncio.Event) -> None:
        failures[scope] += 1
        if failures[scope] >= 2:
            twice[scope].set()
        raise RuntimeError(f"{scope} boom")

    for scope in failures:
        await scheduler.schedule_task(
            id=f"{scope}-failing",
            fn=partial(fail, scope),
            frequency=timedelta(milliseconds=50),
            timeout=MINUTE,
            scope=scope,
        )
    await within(asyncio.gather(*(event.wait() for event in twice.values())))
    errors = [entry for entry in logger.entries if entry.level == "error"]
    for scope in failures:
        logged = [entry for entry in errors if entry.fields.get("task") == f"{scope}-failing"]
        assert logged
        assert logged[0].message == f"Task {scope}-failing failed, {scope} boom"
    state = await state_of(scheduler, "global-failing")
    assert '"message": "global boom"' in state["lastRunError"]


async def test_a_run_past_its_timeout_is_aborted_and_recorded(cluster: Any) -> None:
    scheduler = cluster.scheduler()
    saw_abort = asyncio.Event()

    async def slow(abort: asyncio.Event) -> None:
        await abort.wait()
        saw_abort.set()
        raise RuntimeError("gave up")

    await scheduler.schedule_task(
        id="slow", fn=slow, frequency=HOUR, timeout=timedelta(milliseconds=200)
    )
    await within(saw_abort.wait())
    await polls(scheduler, "slow", 1)
    assert '"gave up"' in (await state_of(scheduler, "slow"))["lastRunError"]


async def test_a_restart_keeps_the_period_and_a_changed_frequency_takes_effect(
    cluster: Any,
) -> None:
    first = cluster.scheduler()
    recorder = Recorder()
    await first.schedule_task(id="t", fn=recorder.fn("first"), frequency=HOUR, timeout=MINUTE)
    await recorder.next_run()
    await polls(first, "t", 1)
    await first.shutdown()

    # the same frequency at the next start: it already ran in this period
    second = cluster.scheduler()
    await second.schedule_task(id="t", fn=recorder.fn("second"), frequency=HOUR, timeout=MINUTE)
    await polls(second, "t", 3)
    assert recorder.runs == ["first"]
    await second.shutdown()

    # a new frequency from config at the next start: its next run is recomputed
    every_second = read_scheduler_service_task_schedule_definition_from_config(
        Config.from_data({"frequency": {"cron": "* * * * * *"}, "timeout": "PT1M"})
    )
    third = cluster.scheduler()
    await third.schedule_task(id="t", fn=recorder.fn("third"), schedule=every_second)
    await recorder.next_run()
    assert recorder.runs[:2] == ["first", "third"]


async def test_switching_between_manual_and_recurring_takes_effect_at_the_next_start(
    cluster: Any,
) -> None:
    first = cluster.scheduler()
    recorder = Recorder()
    await first.schedule_task(
        id="t", fn=recorder.fn("manual"), frequency=ManualTrigger(), timeout=MINUTE
    )
    await polls(first, "t", 2)
    assert recorder.runs == []
    await first.shutdown()

    second = cluster.scheduler()
    await second.schedule_task(id="t", fn=recorder.fn("recurring"), frequency=HOUR, timeout=MINUTE)
    await recorder.next_run()
    assert recorder.runs == ["recurring"]
    await polls(second, "t", 1)
    await second.shutdown()

    third = cluster.scheduler()
    await third.schedule_task(id="t", fn=recorder.fn("manual"), frequency="manual ", timeout=MINUTE)
    await polls(third, "t", 3)
    assert recorder.runs == ["recurring"]
    assert "startsAt" not in await state_of(third, "t")


async def test_a_cancel_from_another_replica_aborts_the_run_where_it_goes_on(
    cluster: Any,
) -> None:
    running = cluster.scheduler()
    operator = cluster.scheduler()
    started = asyncio.Event()
    saw_abort = asyncio.Event()

    async def long_run(abort: asyncio.Event) -> None:
        started.set()
        await abort.wait()
        saw_abort.set()

    await running.schedule_task(id="t", fn=long_run, frequency=HOUR, timeout=HOUR)
    await within(started.wait())
    await operator.cancel_task("t")  # through the database: the running worker's lease is gone
    await within(saw_abort.wait())
    await polls(running, "t", 2)
    state = await state_of(operator, "t")
    assert state["status"] == "idle"
    assert "Task was cancelled" in state["lastRunError"]
    assert state["startsAt"] > state["lastRunEndedAt"]  # the next run follows the cadence
