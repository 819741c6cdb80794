"""Formatting log entries as JSON lines or readable text, and writing them out."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Literal

import msgspec

__all__ = [
    "LEVELS",
    "BatchingWriter",
    "LogFormat",
    "LogSink",
    "UtcClock",
    "describe_error",
    "stdout_writer",
]

LogFormat = Literal["json", "text"]
LEVELS: dict[str, int] = {"debug": 10, "info": 20, "warn": 30, "error": 40}
_LEVEL_NAMES = {value: name for name, value in LEVELS.items()}

_encoder = msgspec.json.Encoder(enc_hook=str)


class UtcClock:
    """ISO 8601 UTC timestamps with milliseconds; the last one is reused within its
    millisecond, and the formatted second within its second."""

    __slots__ = ("_millisecond", "_prefix", "_second", "_stamp")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._millisecond = -1
        self._stamp = ""

    def now(self) -> str:
        millisecond = int(time.time() * 1000)
        if millisecond == self._millisecond:
            return self._stamp
        second, fraction = divmod(millisecond, 1000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        self._millisecond = millisecond
        self._stamp = f"{self._prefix}.{fraction:03d}Z"
        return self._stamp


_FLUSH_DELAY = 0.01
"""Seconds a logged line may wait for the lines logged after it."""
_FLUSH_SIZE = 64 * 1024
"""Bytes waiting that are written at once."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class BatchingWriter:
    """Writes lines to a file descriptor in batches.

    Lines logged while the event loop runs are joined and written by a callback scheduled
    10 ms after the first of them (at once when 64 KiB are waiting), so a burst of requests
    costs one system call rather than one each; the backend flushes the writer at shutdown.
    Outside a running loop, each line is written at once.
    """

    __slots__ = ("_fd", "_pending", "_size", "_timer")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, data: bytes) -> None:
        if self._pending:
            self._pending.append(data)
            self._size += len(data)
            if self._size >= _FLUSH_SIZE:
                self.flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            _write_all(self._fd, data)
            return
        self._pending.append(data)
        self._size = len(data)
        self._timer = loop.call_later(_FLUSH_DELAY, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._size = 0
            _write_all(self._fd, data)


def stdout_writer() -> Callable[[bytes], None]:
    """Entries to standard output, written in batches (see BatchingWriter)."""
    return BatchingWriter(sys.stdout.fileno())


def describe_error(error: BaseException, *, with_stack: bool) -> dict[str, object]:
    described: dict[str, object] = {
        "name": getattr(error, "name", type(error).__name__),
        "message": str(error),
    }
    if with_stack:
        described["stack"] = "".join(traceback.format_exception(error))
    return described


class LogSink:
    """Shared by a root logger and all its children: one format, one writer."""

    __slots__ = ("clock", "format", "trace_context", "with_stacks", "write")

    def __init__(
        self,
        *,
        format: LogFormat,
        write: Callable[[bytes], None],
        with_stacks: bool = True,
    ) -> None:
        self.format = format
        self.write = write
        self.with_stacks = with_stacks
        self.clock = UtcClock()
        self.trace_context: Callable[[], Mapping[str, str] | None] | None = None
        """Set when tracing is on: the current span's `trace_id` and `span_id`, added to
        every line logged while a span is current."""

    def flush(self) -> None:
        """Write out lines a batching writer still holds (at shutdown)."""
        flush = getattr(self.write, "flush", None)
        if flush is not None:
            flush()

    def emit(self, level: int, message: str, fields: Mapping[str, object]) -> None:
        now = self.clock.now()
        name = _LEVEL_NAMES.get(level, "info")
        if self.trace_context is not None:
            ids = self.trace_context()
            if ids is not None:
                fields = {**fields, **ids}
        if self.format == "json":
            entry: dict[str, object] = {"timestamp": now, "level": name, "message": message}
            entry.update(fields)
            self.write(_encoder.encode(entry) + b"\n")
            return
        self.write(_text_line(now, name, message, fields).encode("utf-8", "replace"))


def _text_line(now: str, level: str, message: str, fields: Mapping[str, object]) -> str:
    prefix = fields.get("plugin") or fields.get("service") or "backstage"
    extras = " ".join(
        f"{key}={_text_value(value)}"
        for key, value in fields.items()
        if key not in ("plugin", "service") and key != "error"
    )
    line = f"{now} {prefix} {level} {message}"
    if extras:
        line += f" {extras}"
    error = fields.get("error")
    if isinstance(error, Mapping):
        line += f"\n{error.get('stack') or error.get('message')}".rstrip()
    return line + "\n"


def _text_value(value: object) -> str:
    if isinstance(value, str):
        return value if value and " " not in value else _encoder.encode(value).decode()
    return _encoder.encode(value).decode()
