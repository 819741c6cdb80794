"""Formatting log entries as JSON lines or readable text, and writing them out."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import msgspec

from backstage_backend_defaults.logger._describe import describe_error, error_message
from backstage_backend_defaults.logger._repeats import RepeatedFailures

__all__ = [
    "DEFAULT_MAX_LINE_LENGTH",
    "LEVELS",
    "BatchingWriter",
    "DeferredLines",
    "LogFormat",
    "LogSink",
    "UtcClock",
    "describe_error",
    "stdout_writer",
]

LogFormat = Literal["json", "text"]
LEVELS: dict[str, int] = {"debug": 10, "info": 20, "warn": 30, "error": 40}
_LEVEL_NAMES = {value: name for name, value in LEVELS.items()}

DEFAULT_MAX_LINE_LENGTH = 32 * 1024
"""Bytes a log line may hold (a request once wrote a 37 MB line)."""
_KEPT_ITEMS = 100
"""Items of a list or mapping field kept in a line that is too long."""
_SHORTEST_CUT = 16


def _encode_other(value: object) -> object:
    # An error put in a field by hand is described like one given as the meta.
    if isinstance(value, BaseException):
        return {"name": type(value).__name__, "message": error_message(value)}
    return str(value)


_encoder = msgspec.json.Encoder(enc_hook=_encode_other)


_FRACTIONS = [b".%03dZ" % fraction for fraction in range(1000)]


class UtcClock:
    """ISO 8601 UTC timestamps with milliseconds; the last one is reused within its
    millisecond, and the formatted second within its second."""

    __slots__ = ("_bytes", "_bytes_millisecond", "_millisecond", "_prefix", "_second", "_stamp")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = b""
        self._millisecond = -1
        self._stamp = ""
        self._bytes_millisecond = -1
        self._bytes = b""

    def now(self) -> str:
        millisecond = int(time.time() * 1000)
        if millisecond != self._millisecond:
            self._stamp = self.bytes_at(millisecond).decode()
            self._millisecond = millisecond
        return self._stamp

    def bytes_at(self, millisecond: int) -> bytes:
        """The timestamp of a moment given in milliseconds since the epoch, ASCII-encoded."""
        if millisecond == self._bytes_millisecond:
            return self._bytes
        second, fraction = divmod(millisecond, 1000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode()
        self._bytes_millisecond = millisecond
        self._bytes = self._prefix + _FRACTIONS[fraction]
        return self._bytes

    def now_bytes(self) -> bytes:
        """`now()`, ASCII-encoded."""
        return self.bytes_at(int(time.time() * 1000))


_FLUSH_DELAY = 0.01
"""Seconds a logged line may wait for the lines logged after it."""
_FLUSH_SIZE = 64 * 1024
"""Bytes waiting that are written at once."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


_DEFERRED_MAX = 256
"""Deferred entries waiting that are rendered and written at once (about 64 KiB of lines)."""


class DeferredLines:
    """Entries of one kind (a request's log line, say) that a BatchingWriter turns into
    lines only when it writes: the caller appends a small tuple per entry to `entries`, and
    the formatting runs once per batch, in one call of `render`, off the path that logged
    them.

    Lines keep their order: before the writer takes any other line, or the entries of
    another DeferredLines, it renders the waiting entries first.
    """

    __slots__ = ("_render", "_writer", "entries")

    LIMIT: ClassVar[int] = _DEFERRED_MAX

    def __init__(self, writer: BatchingWriter, render: Callable[[list[Any]], list[bytes]]) -> None:
        self.entries: list[Any] = []
        """Append an entry here, then call `added()` when this holds one entry or
        `DeferredLines.LIMIT` or more. The same list for this object's life: callers may
        keep it."""
        self._render = render
        self._writer = writer

    def added(self) -> None:
        """The first entry of a batch was appended (the writer's timer starts), or enough
        entries wait to be written at once."""
        if len(self.entries) >= _DEFERRED_MAX:
            self._writer.flush()
        else:
            self._writer.hold(self)

    def take(self) -> list[bytes]:
        """The waiting entries' lines; none wait afterwards."""
        entries = self.entries
        if not entries:
            return []
        try:
            return self._render(entries)
        finally:
            entries.clear()


class BatchingWriter:
    """Writes lines to a file descriptor in batches.

    Lines logged while the event loop runs are joined and written by a callback scheduled
    10 ms after the first of them (at once when 64 KiB are waiting), so a burst of requests
    costs one system call rather than one each; the backend flushes the writer at shutdown.
    Outside a running loop, each line is written at once. Entries of a `DeferredLines`
    (`defer()`) wait in the same batches and are formatted when the batch is written.
    """

    __slots__ = ("_fd", "_held", "_pending", "_size", "_timer")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        self._held: DeferredLines | None = None
        """The DeferredLines whose entries wait, formatted before anything else is taken."""

    def defer(self, render: Callable[[list[Any]], list[bytes]]) -> DeferredLines:
        """Entries that wait in this writer's batches and become lines through `render`
        (called with the entries in the order they were appended) when the batch is written.
        """
        return DeferredLines(self, render)

    def __call__(self, data: bytes) -> None:
        if self._held is not None:
            self._take_held()
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

    def hold(self, deferred: DeferredLines) -> None:
        """`deferred` has entries waiting: they are written with the current batch (which
        starts now if none waits); outside a running loop, at once."""
        held = self._held
        if held is not deferred:
            if held is not None:  # the earlier entries go first
                self._take_held()
            self._held = deferred
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._timer = loop.call_later(_FLUSH_DELAY, self.flush)

    def _take_held(self) -> None:
        held = self._held
        self._held = None
        if held is not None:
            lines = held.take()
            self._pending += lines
            self._size += sum(map(len, lines))

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._held is not None:
            self._take_held()
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._size = 0
            _write_all(self._fd, data)


def stdout_writer() -> Callable[[bytes], None]:
    """Entries to standard output, written in batches (see BatchingWriter)."""
    return BatchingWriter(sys.stdout.fileno())


class LogSink:
    """Shared by a root logger and all its children: one format, one writer, one count of
    repeated failures, one maximum line length."""

    __slots__ = (
        "clock",
        "format",
        "max_line_length",
        "repeats",
        "trace_context",
        "with_stacks",
        "write",
    )

    def __init__(
        self,
        *,
        format: LogFormat,
        write: Callable[[bytes], None],
        with_stacks: bool = True,
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
        repeat_interval: float = 10.0,
    ) -> None:
        self.format = format
        self.write = write
        self.with_stacks = with_stacks
        self.max_line_length = max_line_length
        """Longer lines have their longest values cut in the middle, with a marker."""
        self.repeats = RepeatedFailures(repeat_interval, self.emit)
        self.clock = UtcClock()
        self.trace_context: Callable[[], Mapping[str, str] | None] | None = None
        """Set when tracing is on: the current span's `trace_id` and `span_id`, added to
        every line logged while a span is current."""

    def flush(self) -> None:
        """Write out the summaries of repeated failures and the lines a batching writer
        still holds (at shutdown)."""
        self.repeats.flush()
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
        render = (
            self._json_renderer(now, name, message, fields)
            if self.format == "json"
            else _text_renderer(now, name, message, fields)
        )
        try:
            line = render(None)
        except ValueError:  # an integer too long to write out as is: `_cut` shortens it
            line = b""
        if not line or len(line) > self.max_line_length:
            line = self._fit(render)
        if len(line) > self.max_line_length:  # thousands of fields: keep the message
            if self.format == "json":
                cut = {"cut": "the fields of this line were too long to log"}
                line = self._fit(self._json_renderer(now, name, message, cut))
            line = line[: self.max_line_length - 1].decode("utf-8", "ignore").encode() + b"\n"
        self.write(line)

    @staticmethod
    def _json_renderer(
        now: str, level: str, message: str, fields: Mapping[str, object]
    ) -> Callable[[int | None], bytes]:
        entry: dict[str, object] = {"timestamp": now, "level": level, "message": message}
        entry.update(fields)

        def render(limit: int | None) -> bytes:
            return _encoder.encode(entry if limit is None else _cut(entry, limit)) + b"\n"

        return render

    def _fit(self, render: Callable[[int], bytes]) -> bytes:
        """The line rendered with ever shorter values until it fits, or with the
        shortest."""
        limit = self.max_line_length // 2
        while True:
            line = render(limit)
            if len(line) <= self.max_line_length or limit <= _SHORTEST_CUT:
                return line
            limit = max(limit // 2, _SHORTEST_CUT)


def _cut(value: object, limit: int) -> object:
    """`value` with strings longer than `limit` characters cut in the middle and long lists
    and mappings shortened, each cut saying how much it left out."""
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        head = limit // 2
        tail = limit - head
        return f"{value[:head]}...[{len(value) - limit} characters cut]...{value[-tail:]}"
    if isinstance(value, Mapping):
        items = list(value.items())
        cut: dict[str, object] = {str(k): _cut(v, limit) for k, v in items[:_KEPT_ITEMS]}
        if len(items) > _KEPT_ITEMS:
            cut["..."] = f"{len(items) - _KEPT_ITEMS} more fields cut"
        return cut
    if isinstance(value, list | tuple):
        kept = [_cut(item, limit) for item in value[:_KEPT_ITEMS]]
        if len(value) > _KEPT_ITEMS:
            kept.append(f"...[{len(value) - _KEPT_ITEMS} more items cut]")
        return kept
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return value
        try:
            return _cut(str(value), limit)
        except ValueError:  # past Python's limit on the digits it converts
            return f"<integer of {value.bit_length()} bits>"
    return _cut(_encode_other(value), limit)


def _cut_text(value: str, limit: int) -> str:
    cut = _cut(value, limit)
    return cut if isinstance(cut, str) else value


def _cut_fields(fields: Mapping[str, object], limit: int) -> Mapping[str, object]:
    cut = _cut(fields, limit)
    return cut if isinstance(cut, dict) else fields


def _text_renderer(
    now: str, level: str, message: str, fields: Mapping[str, object]
) -> Callable[[int | None], bytes]:
    def render(limit: int | None) -> bytes:
        if limit is None:
            line = _text_line(now, level, message, fields)
        else:
            line = _text_line(now, level, _cut_text(message, limit), _cut_fields(fields, limit))
        return line.encode("utf-8", "replace")

    return render


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
