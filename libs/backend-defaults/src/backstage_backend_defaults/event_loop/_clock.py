"""The event loop thread's CPU time: how long it ran, and how long it waited for a CPU.

On Linux both come from the thread's `schedstat` (one `pread` of an open file); elsewhere
only the running time is known (`time.thread_time`). They tell a loop blocked by its own
work (it ran the whole time) from one starved by other processes (it waited for a CPU) or
blocked in a system call (it did neither).
"""

from __future__ import annotations

import contextlib
import os
import time

__all__ = ["ThreadClock"]

_SCHEDSTAT = "/proc/thread-self/schedstat"


class ThreadClock:
    """Seconds the thread that built it has run and waited to run; close it when done."""

    __slots__ = ("_fd",)

    def __init__(self) -> None:
        self._fd: int | None = None
        with contextlib.suppress(OSError):
            self._fd = os.open(_SCHEDSTAT, os.O_RDONLY)

    def read(self) -> tuple[float, float | None]:
        """(running, waiting for a CPU or None where unknown), both since the thread began."""
        if self._fd is not None:
            try:
                fields = os.pread(self._fd, 128, 0).split()
                return int(fields[0]) / 1e9, int(fields[1]) / 1e9
            except (OSError, ValueError, IndexError):
                self.close()  # from now on the running time alone
        return time.thread_time(), None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
