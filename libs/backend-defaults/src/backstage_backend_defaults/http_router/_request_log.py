"""One log line per request, built cheaply: it runs on every request's path."""

from __future__ import annotations

import msgspec
from backstage_backend_plugin_api import LoggerService

from backstage_backend_defaults.logger import StructuredLogger

__all__ = ["RequestLog"]

_encode = msgspec.json.encode
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
    """

    __slots__ = ("_fields", "_logger", "_parts", "_sink", "enabled")

    def __init__(self, logger: LoggerService) -> None:
        self._logger = logger
        self._sink = None
        self.enabled = True
        self._fields = b""
        self._parts: dict[tuple[str, str, int, str, str | None], tuple[bytes, ...]] = {}
        if isinstance(logger, StructuredLogger):
            self.enabled = logger.is_enabled("info")
            if logger.sink.format == "json":
                fields = {
                    key: value for key, value in logger.fields.items() if key not in _RESERVED
                }
                fields["type"] = "incomingRequest"
                self._fields = _encode(fields)[1:-1]
                self._sink = logger.sink

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
        parts = self._parts.get(key)
        if parts is None:
            parts = self._line_parts(key)
        whole, fraction = divmod(duration_us, 1000)
        duration = _MILLISECONDS[fraction] % whole
        sink.write(
            b'{"timestamp":"%s%s%s%s%s%s%s}\n'
            % (sink.clock.now_bytes(), parts[0], duration, parts[1], duration, parts[2], trace_ids)
        )

    def _line_parts(self, key: tuple[str, str, int, str, str | None]) -> tuple[bytes, ...]:
        """What a line says around its timestamp, duration and trace ids, kept for the
        next request to the same path with the same answer."""
        method, path, status, http_version, plugin_id = key
        plugin = b',"plugin":"%s"' % plugin_id.encode() if plugin_id is not None else b""
        path_json = _json_string(path)
        method_bytes = method.encode()
        parts = (
            b'","level":"info","message":"\\"%s %s\\" %d '
            % (method_bytes, path_json[1:-1], status),
            b'ms",%s,"method":"%s","url":%s,"status":%d,"durationMs":'
            % (self._fields, method_bytes, path_json, status),
            b',"httpVersion":"%s"%s' % (http_version.encode(), plugin),
        )
        if len(path) <= _PARTS_PATH_KEPT:
            if len(self._parts) >= _PARTS_KEPT:
                self._parts.clear()
            self._parts[key] = parts
        return parts
