"""The event loop lag monitor: a timer callback that measures how late it runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from backstage_backend_plugin_api import LoggerService

from backstage_backend_defaults.event_loop._clock import ThreadClock
from backstage_backend_defaults.event_loop._settings import LagMonitorSettings

__all__ = ["EventLoopLagMonitor", "LagSample"]


@dataclass(frozen=True, slots=True)
class LagSample:
    """One late wake-up: seconds late, and what the loop's thread did meanwhile (since the
    probe before it): seconds it ran, and seconds it waited for a CPU (None: unknown)."""

    lag: float
    running: float
    waiting: float | None


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


class EventLoopLagMonitor:
    """Every `interval` a callback is due on the loop; how late it runs is the loop's lag.

    Each lag goes to `record_lag` (the `backstage.event_loop.lag` histogram when metrics
    are on). A lag
    of `warn_threshold` or more is logged as a warning, at most one per `warn_interval`:
    the lags in between are counted and logged with the worst of them once it has passed.
    """

    def __init__(
        self,
        settings: LagMonitorSettings,
        logger: LoggerService,
        record_lag: Callable[[float], None] | None,
    ) -> None:
        self._settings = settings
        self._logger = logger
        self._record_lag = record_lag
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._clock: ThreadClock | None = None
        self._due = 0.0
        self._cpu: tuple[float, float | None] = (0.0, None)
        self._worst: LagSample | None = None
        self._quiet_until = 0.0
        self._held = 0
        self._held_worst: LagSample | None = None

    @property
    def worst(self) -> LagSample | None:
        """The worst lag since the monitor started; None before its first probe."""
        return self._worst

    def start(self) -> None:
        """Probe the running loop from now on (from the loop's own thread)."""
        if self._loop is not None:
            return
        self._loop = loop = asyncio.get_running_loop()
        self._clock = ThreadClock()
        self._cpu = self._clock.read()
        self._due = loop.time() + self._settings.interval
        self._handle = loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        """Stop probing; lags held back by the rate limit are logged now."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._clock is not None:
            self._clock.close()
            self._clock = None
        self._flush()

    def _tick(self) -> None:
        loop, clock = self._loop, self._clock
        assert loop is not None
        assert clock is not None
        now = loop.time()
        lag = max(0.0, now - self._due)
        self._due = now + self._settings.interval
        self._handle = loop.call_at(self._due, self._tick)  # first: nothing below stops it
        running, waiting = cpu = clock.read()
        sample = self._sample(lag, running, waiting)
        self._cpu = cpu
        if self._record_lag is not None:
            self._record_lag(lag)
        if self._worst is None or lag > self._worst.lag:
            self._worst = sample
        if lag >= self._settings.warn_threshold:
            self._late(sample, now)
        elif self._held and now >= self._quiet_until:
            self._flush(now)

    def _sample(self, lag: float, running: float, waiting: float | None) -> LagSample:
        before_running, before_waiting = self._cpu
        waited = None if waiting is None or before_waiting is None else waiting - before_waiting
        return LagSample(lag, running - before_running, waited)

    def _late(self, sample: LagSample, now: float) -> None:
        if now < self._quiet_until:
            self._held += 1
            if self._held_worst is None or sample.lag > self._held_worst.lag:
                self._held_worst = sample
            return
        self._flush()  # what the previous window held back
        self._warn(sample, f"The event loop was blocked for {_ms(sample.lag)} ms", 1)
        self._quiet_until = now + self._settings.warn_interval

    def _flush(self, now: float | None = None) -> None:
        sample, count = self._held_worst, self._held
        self._held, self._held_worst = 0, None
        if sample is None:
            return
        threshold = _ms(self._settings.warn_threshold)
        message = (
            f"The event loop was blocked for {threshold} ms or more {count} more "
            f"time{'s' if count > 1 else ''}, at worst for {_ms(sample.lag)} ms"
        )
        self._warn(sample, message, count)
        if now is not None:
            self._quiet_until = now + self._settings.warn_interval

    def _warn(self, sample: LagSample, message: str, count: int) -> None:
        waiting = "" if sample.waiting is None else f", waited {_ms(sample.waiting)} ms for a CPU"
        self._logger.warn(
            f"{message} (meanwhile its thread ran {_ms(sample.running)} ms{waiting})",
            {
                "type": "eventLoopLag",
                "lagMs": _ms(sample.lag),
                "runningMs": _ms(sample.running),
                "cpuWaitMs": _ms(sample.waiting),
                "count": count,
                "thresholdMs": _ms(self._settings.warn_threshold),
            },
        )
