"""One log line per request, built cheaply: it runs on every request's path."""

from __future__ import annotations

import time
from typing import TypeAlias

import msgspec
from backstage_backend_plugin_api import LoggerService

from backstage_backend_defaults.logger import BatchingWriter, DeferredLines, StructuredLogger

__all__ = ["RequestEntry", "RequestKey", "RequestLog"]

RequestKey: TypeAlias = tuple[str, str, int, str, str | None]
"""What a request's line says that many lines share: method, path as sent, status, HTTP
version, plugin (or None)."""
RequestEntry: TypeAlias = tuple[RequestKey, float, float, bytes]
"""A request's line before it is formatted: its key, start and end on the `perf_counter`
clock, trace ids (`RequestLog.write`'s `trace_ids`)."""

_encode = msgspec.json.encode
_perf_counter = time.perf_counter
_time = time.time
_RESERVED = ("timestamp", "level", "message")
_MILLISECONDS = [
    (b"%%d.%03d" % fraction).rstrip(b"0") if fraction else b"%d.0" for fraction in range(1000)
]
"""Per microsecond fraction, the pattern that writes milliseconds as `repr(us / 1000)` does,
without a float's conversions (the most costly part of the line)."""
_PARTS_KEPT = 1024
"""Lines (method, path, status) whose fixed parts are kept: a busy path's line is then two
numbers and a timestamp away."""
_PARTS_PATH_KEPT = 256
"""Longest path whose line parts are kept, which bounds what the kept parts hold."""
_DURATIONS_KEPT = 4096
"""Durations (in microseconds) whose text is kept: most requests take under a few ms."""


def _json_string(text: str) -> bytes:
    """A JSON string literal; plain ASCII paths (the usual case) skip the encoder."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return b'"%s"' % text.encode()
    return _encode(text)


class RequestLog:
    """Writes `"<METHOD> <path>" <status> <ms>ms` with `type: incomingRequest` fields.

    With the default JSON logger the line is assembled from a pre-encoded prefix, giving the
    same document as `logger.info(message, meta)` for a fraction of the cost; any other
    logger gets a plain `logger.info` call.

    When that logger writes through a `BatchingWriter`, a request's line can wait as a
    `RequestEntry` in `deferred.entries` and be formatted with the rest of its batch, when
    the batch is written (its timestamp is the moment the request ended all the same).
    """

    __slots__ = (
        "_durations",
        "_fields",
        "_lines",
        "_logger",
        "_sink",
        "deferred",
        "deferred_path_max",
        "enabled",
    )

    def __init__(self, logger: LoggerService) -> None:
        self._logger = logger
        self._sink = None
        self.enabled = True
        self._fields = b""
        self._lines: dict[RequestKey, bytes] = {}
        self._durations: dict[int, bytes] = {}
        self.deferred: DeferredLines | None = None
        """Where a request's entry may wait (JSON lines through a batching writer, at info)."""
        self.deferred_path_max = 0
        """The longest path whose entry may wait; longer ones take `write`."""
        if isinstance(logger, StructuredLogger):
            self.enabled = logger.is_enabled("info")
            if logger.sink.format == "json":
                fields = {
                    key: value for key, value in logger.fields.items() if key not in _RESERVED
                }
                fields["type"] = "incomingRequest"
                self._fields = _encode(fields)[1:-1]
                self._sink = logger.sink
                if self.enabled and isinstance(logger.sink.write, BatchingWriter):
                    self.deferred = logger.sink.write.defer(self._render)
                    # `write`'s bound for its own fast path
                    self.deferred_path_max = (logger.sink.max_line_length - 1024) // 12

    def write(
        self,
        method: str,
        path: str,
        status: int,
        duration_us: int,
        http_version: str,
        plugin_id: str | None,
        trace_ids: bytes = b"",
    ) -> None:
        """The request's line; nothing when the logger's level hides `info`.

        Args:
            method: The request's method.
            path: The request's path, as sent.
            status: The response's status code.
            duration_us: How long the request took, in microseconds (`durationMs` has three
                decimals, as Backstage's).
            http_version: The request's HTTP version.
            plugin_id: The plugin whose gate the request passed, if any.
            trace_ids: The request span's ids as JSON members (`,"trace_id":...`) for the
                JSON line; the logger adds them itself to lines of other formats.
        """
        if not self.enabled:
            return
        sink = self._sink
        # A long path (written twice, each character escaped to up to 6) takes the general
        # path, which keeps the line within the sink's maximum length.
        if sink is None or 12 * len(path) + 1024 > sink.max_line_length:
            duration_ms = duration_us / 1000
            meta: dict[str, object] = {
                "type": "incomingRequest",
                "method": method,
                "url": path,
                "status": status,
                "durationMs": duration_ms,
                "httpVersion": http_version,
            }
            if plugin_id is not None:
                meta["plugin"] = plugin_id
            self._logger.info(f'"{method} {path}" {status} {duration_ms}ms', meta)
            return
        key = (method, path, status, http_version, plugin_id)
        line = self._lines.get(key)
        if line is None:
            line = self._line_format(key)
        whole, fraction = divmod(duration_us, 1000)
        duration = _MILLISECONDS[fraction] % whole
        sink.write(line % (sink.clock.now_bytes(), duration, duration, trace_ids))

    def _render(self, entries: list[RequestEntry]) -> list[bytes]:
        """The lines of waiting entries, as `write` makes them (one loop for the batch)."""
        sink = self._sink
        assert sink is not None
        bytes_at = sink.clock.bytes_at
        kept = self._lines
        line_format = self._line_format
        durations = self._durations
        if len(durations) > _DURATIONS_KEPT:
            durations.clear()
        # The wall clock's time at a moment of `perf_counter`'s: the two drift apart by
        # microseconds over a batch's 10 ms.
        offset = _time() - _perf_counter()
        next_millisecond = -1.0  # on the `perf_counter` clock: when the timestamp changes
        stamp = b""
        lines: list[bytes] = []
        append = lines.append
        for key, started, ended, trace_ids in entries:
            line = kept.get(key)
            if line is None:
                line = line_format(key)
            if ended >= next_millisecond:  # lines a millisecond apart share their timestamp
                millisecond = int((ended + offset) * 1000)
                stamp = bytes_at(millisecond)
                next_millisecond = (millisecond + 1) / 1000 - offset
            duration_us = int((ended - started) * 1e6 + 0.5)
            duration = durations.get(duration_us)
            if duration is None:
                whole, fraction = divmod(duration_us, 1000)
                duration = durations[duration_us] = _MILLISECONDS[fraction] % whole
            append(line % (stamp, duration, duration, trace_ids))
        return lines

    def _line_format(self, key: RequestKey) -> bytes:
        """The line's format for its timestamp, duration (twice) and trace ids, kept for
        the next request to the same path with the same answer."""
        method, path, status, http_version, plugin_id = key
        plugin = b',"plugin":"%s"' % plugin_id.encode() if plugin_id is not None else b""
        path_json = _json_string(path).replace(b"%", b"%%")
        method_bytes = method.encode().replace(b"%", b"%%")
        line = (
            b'{"timestamp":"%%s","level":"info","message":"\\"%s %s\\" %d %%sms",%s,'
            b'"method":"%s","url":%s,"status":%d,"durationMs":%%s,"httpVersion":"%s"%s%%s}\n'
            % (
                method_bytes,
                path_json[1:-1],
                status,
                self._fields.replace(b"%", b"%%"),
                method_bytes,
                path_json,
                status,
                http_version.encode().replace(b"%", b"%%"),
                plugin.replace(b"%", b"%%"),
            )
        )
        if len(path) <= _PARTS_PATH_KEPT:
            if len(self._lines) >= _PARTS_KEPT:
                self._lines.clear()
            self._lines[key] = line
        return line
