"""The event loop lag monitor: a handler that blocks the loop is warned about and counted,
an idle backend is not, and the monitor follows `backend.eventLoopLag`."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from backstage_backend_defaults.event_loop import (
    EventLoopLagMonitor,
    LagMonitorSettings,
    event_loop_lag_service_ref,
    read_lag_monitor_settings,
)
from backstage_backend_defaults.logger import create_root_logger
from backstage_backend_defaults.telemetry import TelemetryOptions, telemetry_service_factory
from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import start_test_backend
from backstage_common.config import Config
from backstage_common.errors import InputError
from litestar import get
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from .test_telemetry import json_root_logger

JSON_LOGS = {"backend": {"logging": {"format": "json", "level": "info"}}}
# Every lag warned on its own (no rate limit), so a test can pick its handler's lag out of
# any the machine adds while it is busy with other work.
EVERY_LAG = {"backend": {**JSON_LOGS["backend"], "eventLoopLag": {"warnInterval": 0}}}


def blocking_plugin() -> BackendPlugin:
    """`GET /sleep` sleeps 300 ms in the loop's thread; `GET /spin` computes for 300 ms."""

    def register(env: PluginRegistrationPoints) -> None:
        async def init(router: core.HttpRouter) -> None:
            @get("/sleep", sync_to_thread=False)
            def sleep() -> dict[str, str]:
                time.sleep(0.3)
                return {"slept": "300 ms"}

            @get("/spin", sync_to_thread=False)
            def spin() -> dict[str, int]:
                deadline = time.perf_counter() + 0.3
                turns = 0
                while time.perf_counter() < deadline:
                    turns += 1
                return {"turns": turns}

            router.use(sleep, spin)
            router.add_auth_policy(path="/", allow="unauthenticated")

        env.register_init(init)

    return create_backend_plugin(plugin_id="blocking", register=register)


def lag_entries(lines: list[bytes]) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in lines]
    return [entry for entry in entries if entry.get("type") == "eventLoopLag"]


async def lines_after_start(lines: list[bytes]) -> int:
    """How many lines were logged once two probes have run, so that any lag of starting the
    backend is among them and a test can look past it."""
    await asyncio.sleep(0.05)
    return len(lines)


def handler_lag_entry(lines: list[bytes]) -> dict[str, Any]:
    """The one warning of a lag of 250 ms or more that was not the thread waiting for a CPU.

    A loaded machine may keep the loop's thread from a CPU for a while; that lag shows as
    `cpuWaitMs` and is not the handler's.
    """
    [entry] = [
        entry for entry in lag_entries(lines) if entry["lagMs"] - (entry["cpuWaitMs"] or 0) >= 250
    ]
    return entry


def lag_points(reader: InMemoryMetricReader) -> list[HistogramDataPoint]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "backstage.event_loop.lag"
        for point in metric.data.data_points
        if isinstance(point, HistogramDataPoint)
    ]


async def test_a_handler_that_blocks_the_loop_is_warned_about_and_counted() -> None:
    lines: list[bytes] = []
    reader = InMemoryMetricReader()
    features = [
        blocking_plugin(),
        json_root_logger(lines),
        telemetry_service_factory(TelemetryOptions(metric_readers=[reader])),
    ]
    async with start_test_backend(features=features, config=EVERY_LAG) as test:
        monitor = await test.backend.get_service(event_loop_lag_service_ref)
        started = await lines_after_start(lines)
        assert (await test.client.get("/api/blocking/sleep")).status_code == 200
        await asyncio.sleep(0.1)  # the monitor's next probe, then the log's flush
        [point] = lag_points(reader)
    entry = handler_lag_entry(lines[started:])
    assert entry["level"] == "warn"
    assert entry["service"] == "eventLoop"
    assert entry["lagMs"] >= 250
    assert entry["message"].startswith(f"The event loop was blocked for {entry['lagMs']} ms")
    assert entry["thresholdMs"] == 100
    assert entry["count"] == 1
    # asleep, the loop's thread neither ran nor waited for a CPU most of that time
    assert entry["runningMs"] + entry["cpuWaitMs"] < entry["lagMs"] / 2
    assert monitor is not None
    assert monitor.worst is not None
    assert monitor.worst.lag >= 0.25
    # one probe every 20 ms, each recorded; the sleep's lag in a bucket above 0.25 s
    assert point.count >= 5
    assert point.explicit_bounds[5] == 0.25
    assert sum(point.bucket_counts[6:]) >= 1
    assert point.max >= 0.25


async def test_computing_in_the_loop_shows_as_time_its_thread_ran() -> None:
    lines: list[bytes] = []
    features = [blocking_plugin(), json_root_logger(lines)]
    async with start_test_backend(features=features, config=EVERY_LAG) as test:
        started = await lines_after_start(lines)
        assert (await test.client.get("/api/blocking/spin")).status_code == 200
        await asyncio.sleep(0.1)
    # the spin's lag: one of 250 ms or more in which the thread ran (a lag of the machine
    # is the thread waiting for a CPU, running next to nothing)
    [entry] = [
        entry
        for entry in lag_entries(lines[started:])
        if entry["lagMs"] >= 250 and entry["runningMs"] >= 100
    ]
    # busy, the thread either ran or waited for a CPU the whole time
    assert entry["runningMs"] + entry["cpuWaitMs"] >= 0.9 * entry["lagMs"]


async def test_an_idle_backend_warns_of_nothing() -> None:
    lines: list[bytes] = []
    reader = InMemoryMetricReader()
    features = [
        json_root_logger(lines),
        telemetry_service_factory(TelemetryOptions(metric_readers=[reader])),
    ]
    async with start_test_backend(features=features, config=JSON_LOGS) as test:
        await asyncio.sleep(0.5)
        monitor = await test.backend.get_service(event_loop_lag_service_ref)
        [point] = lag_points(reader)
    # On a machine shared with busy processes the loop's thread may be ready to run and get
    # no CPU for a while; such a lag is the machine's, and the warning says so. An idle
    # backend itself never holds its loop up.
    for entry in lag_entries(lines):
        assert entry["lagMs"] - (entry["cpuWaitMs"] or 0) < 50, entry
    assert monitor is not None
    assert monitor.worst is not None
    assert monitor.worst.lag - (monitor.worst.waiting or 0.0) < 0.05
    assert point.count >= 10
    if not lag_entries(lines):
        assert sum(point.bucket_counts[5:]) == 0  # nothing of 100 ms or more


async def test_warnings_are_rate_limited_and_what_they_held_back_is_logged() -> None:
    lines: list[bytes] = []
    lag = {"warnInterval": "1h", "warnThreshold": "150ms"}
    config = {"backend": {**JSON_LOGS["backend"], "eventLoopLag": lag}}
    features = [blocking_plugin(), json_root_logger(lines)]
    async with start_test_backend(features=features, config=config) as test:
        for _ in range(3):
            assert (await test.client.get("/api/blocking/sleep")).status_code == 200
            await asyncio.sleep(0.05)
        assert len(lag_entries(lines)) == 1  # the two others wait for the hour to pass
    first, held = lag_entries(lines)  # and are logged when the backend stops
    assert (first["count"], first["thresholdMs"]) == (1, 150)
    assert held["count"] == 2
    assert held["message"].startswith(
        f"The event loop was blocked for 150 ms or more 2 more times, at worst for "
        f"{held['lagMs']} ms"
    )
    assert held["lagMs"] >= 250


async def test_the_monitor_can_be_turned_off() -> None:
    lines: list[bytes] = []
    config = {"backend": {**JSON_LOGS["backend"], "eventLoopLag": {"enabled": False}}}
    features = [blocking_plugin(), json_root_logger(lines)]
    async with start_test_backend(features=features, config=config) as test:
        assert await test.backend.get_service(event_loop_lag_service_ref) is None
        assert (await test.client.get("/api/blocking/sleep")).status_code == 200
        await asyncio.sleep(0.1)
    assert lag_entries(lines) == []


def test_settings_are_read_and_checked() -> None:
    def settings(section: dict[str, Any]) -> LagMonitorSettings | None:
        return read_lag_monitor_settings(Config.from_data({"backend": {"eventLoopLag": section}}))

    assert settings({}) == LagMonitorSettings(interval=0.02, warn_threshold=0.1, warn_interval=10)
    assert settings({"enabled": False}) is None
    assert settings({"interval": "50ms", "warnThreshold": 250, "warnInterval": 0}) == (
        LagMonitorSettings(interval=0.05, warn_threshold=0.25, warn_interval=0)
    )
    with pytest.raises(InputError, match=r"'backend\.eventLoopLag\.interval'.*longer than 0"):
        settings({"interval": 0})
    with pytest.raises(InputError, match=r"backend\.eventLoopLag\.warnThreshold"):
        settings({"warnThreshold": "soon"})


async def test_stopping_twice_and_starting_twice_is_harmless() -> None:
    lines: list[bytes] = []
    logger = create_root_logger(Config.from_data(JSON_LOGS), write=lines.append, env={})
    monitor = EventLoopLagMonitor(LagMonitorSettings(interval=0.01), logger, None)
    monitor.start()
    monitor.start()
    await asyncio.sleep(0.05)
    monitor.stop()
    monitor.stop()
    assert monitor.worst is not None
    assert lines == []
