"""Repeated failures logged in full once, then counted.

During an outage every request and every loop turn fails the same way: a database down for
10 s wrote 2,759 stack traces. The logger keys each failure by level, plugin, logger, error
class and the shape of its messages (numbers, ids and quoted values left out); the first of
a key is logged in full, the next ones within `interval` are only counted, and at the end
of the interval one line says how many there were. A failure that goes on stays counted, a
summary per interval; once an interval passes without it, its next occurrence is logged in
full again.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from enum import Enum

__all__ = ["Admission", "RepeatedFailures", "failure_shape"]

_SHAPE_CHARS = 200
_MAX_TRACKED = 1_000
"""Failures counted at once; past that, new ones are logged without their stacks."""
_VARIABLE = re.compile(
    r"'[^']*'|\"[^\"]*\"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
    r"|\b(?:0x)?[0-9a-fA-F]*\d[0-9a-fA-F]*\b"
)


def failure_shape(text: str) -> str:
    """`text` without what varies between occurrences of one failure (numbers, ids, quoted
    values), so that they share a key."""
    return _VARIABLE.sub("#", text[:_SHAPE_CHARS])


class Admission(Enum):
    FULL = "full"
    """Log it with everything."""
    COUNTED = "counted"
    """Counted into the next summary; log nothing now."""
    BRIEF = "brief"
    """Too many distinct failures are being counted: log it, without its stack."""


@dataclass(slots=True)
class _Window:
    level: int
    message: str
    fields: Mapping[str, object]
    started: float
    last: float
    count: int = 0


Emit = Callable[[int, str, Mapping[str, object]], None]


class RepeatedFailures:
    """Counts repeats of failures and emits their summaries through `emit`.

    Summaries are emitted by a timer on the running event loop, or else by the next
    failure logged or by `flush` (which the backend calls at shutdown).
    """

    def __init__(
        self,
        interval: float,
        emit: Emit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = _MAX_TRACKED,
    ) -> None:
        self.interval = interval
        self._emit = emit
        self._clock = clock
        self._max_tracked = max_tracked
        self._windows: dict[Hashable, _Window] = {}
        self._lock = threading.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def admit(
        self, key: Hashable, level: int, message: str, fields: Mapping[str, object]
    ) -> Admission:
        """Whether a failure is logged now; `message` and `fields` (without a stack) are
        what its summary repeats."""
        if self.interval <= 0:
            return Admission.FULL
        self._roll()
        with self._lock:
            window = self._windows.get(key)
            if window is not None:
                window.count += 1
                window.last = self._clock()
                return Admission.COUNTED
            if len(self._windows) >= self._max_tracked:
                return Admission.BRIEF
            now = self._clock()
            self._windows[key] = _Window(level, message, fields, now, now)
        self._schedule()
        return Admission.FULL

    def flush(self) -> None:
        """Emit the summaries of every failure counted so far."""
        self._roll(everything=True)

    def _roll(self, *, everything: bool = False) -> None:
        now = self._clock()
        due: list[tuple[_Window, int, float]] = []
        with self._lock:
            for key, window in list(self._windows.items()):
                if not everything and now - window.started < self.interval:
                    continue
                if window.count:
                    due.append((window, window.count, now - window.started))
                if window.count and not everything and now - window.last < self.interval:
                    window.count = 0  # still going on: counted into the next summary
                    window.started = now
                else:
                    del self._windows[key]
        for window, count, elapsed in due:
            times = "once" if count == 1 else f"{count} times"
            self._emit(
                window.level,
                f"{window.message} (repeated {times} in the last {max(round(elapsed), 1)} s)",
                {**window.fields, "repeated": count},
            )

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread: the next failure or flush rolls
            return
        if self._timer is not None and self._timer_loop is loop:
            return
        with self._lock:
            if not self._windows:
                return
            first = min(window.started for window in self._windows.values())
        self._timer_loop = loop
        self._timer = loop.call_later(
            max(first + self.interval - self._clock(), 0.0) + 0.001, self._on_timer
        )

    def _on_timer(self) -> None:
        self._timer = None
        self._roll()
        self._schedule()
