"""Stopping the scheduler's runs and workers never swallows the cancellation of whoever
stops them: the shutdown deadline cancels the stop, and the stop must end then, even when
what it stops ignores being cancelled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from backstage_backend_defaults.scheduler._runs import RunAborted, TaskRun, finish

GRACE = timedelta(seconds=0.05)
DEADLINE_S = 0.3
OBSERVED_FOR_S = 5.0


def stubborn(release: asyncio.Event) -> asyncio.Task[None]:
    """A task that ignores cancellation until `release` is set."""

    async def loop() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    return asyncio.create_task(loop())


async def outcome_at_deadline(stop: Callable[[], Awaitable[None]]) -> BaseException | None:
    """What `stop()` ends with when `DEADLINE_S` cancels it, observed from another task (a
    stop that delegates the cancellation to a stubborn task would never end)."""

    async def bounded() -> None:
        async with asyncio.timeout(DEADLINE_S):
            await stop()

    stopping = asyncio.create_task(bounded())
    done, _ = await asyncio.wait({stopping}, timeout=OBSERVED_FOR_S)
    assert stopping in done, f"the stop ignored its deadline for {OBSERVED_FOR_S} s"
    return stopping.exception()


async def test_finishing_a_loop_that_will_not_end_stops_at_the_callers_deadline() -> None:
    release = asyncio.Event()
    loop = stubborn(release)
    await asyncio.sleep(0)
    try:
        error = await outcome_at_deadline(lambda: finish(loop, bound=0.05))
        assert isinstance(error, TimeoutError)
        assert not loop.done()  # it was cancelled, and ignored it
    finally:
        release.set()
        loop.cancel()
        await asyncio.wait({loop})


async def test_finishing_a_loop_that_ends_when_cancelled_returns() -> None:
    loop = asyncio.create_task(asyncio.sleep(10))
    await asyncio.sleep(0)
    assert await outcome_at_deadline(lambda: finish(loop, bound=0.05)) is None
    assert loop.cancelled()


async def test_a_run_past_its_timeout_is_aborted() -> None:
    async def slow(abort: asyncio.Event) -> None:
        await asyncio.sleep(10)

    with pytest.raises(RunAborted):
        await TaskRun(slow, grace=GRACE).execute(timedelta(seconds=0.05))


async def test_a_run_whose_body_ignores_cancelling_ends_at_the_workers_deadline() -> None:
    release = asyncio.Event()
    bodies: list[asyncio.Task[object]] = []

    async def ignores_abort(abort: asyncio.Event) -> None:
        task = asyncio.current_task()
        assert task is not None
        bodies.append(task)
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    run = TaskRun(ignores_abort, grace=GRACE)
    try:
        error = await outcome_at_deadline(lambda: run.execute(timedelta(seconds=0.05)))
        assert isinstance(error, TimeoutError)
    finally:
        release.set()
        for body in bodies:
            body.cancel()
        await asyncio.wait(bodies)
