"""The structured logger behind core.rootLogger and core.logger."""

from __future__ import annotations

from collections.abc import Mapping

from backstage_backend_plugin_api import LogMeta

from backstage_backend_defaults.logger._sink import LEVELS, LogSink, describe_error

__all__ = ["StructuredLogger"]

_DEBUG, _INFO, _WARN, _ERROR = LEVELS["debug"], LEVELS["info"], LEVELS["warn"], LEVELS["error"]


class StructuredLogger:
    """Entries carry this logger's fields (e.g. `plugin`) plus each call's `meta`."""

    __slots__ = ("_fields", "_min_level", "_sink")

    def __init__(self, sink: LogSink, *, level: int, fields: Mapping[str, object]) -> None:
        self._sink = sink
        self._min_level = level
        self._fields = dict(fields)

    @property
    def level(self) -> int:
        return self._min_level

    @property
    def sink(self) -> LogSink:
        return self._sink

    @property
    def fields(self) -> Mapping[str, object]:
        return self._fields

    def _log(self, level: int, message: str, meta: LogMeta) -> None:
        if level < self._min_level:
            return
        fields: Mapping[str, object]
        if meta is None:
            fields = self._fields
        elif isinstance(meta, BaseException):
            error = describe_error(meta, with_stack=self._sink.with_stacks)
            fields = {**self._fields, "error": error}
        elif self._fields:
            fields = {**self._fields, **meta}
        else:
            fields = meta
        self._sink.emit(level, message, fields)

    def error(self, message: str, meta: LogMeta = None) -> None:
        self._log(_ERROR, message, meta)

    def warn(self, message: str, meta: LogMeta = None) -> None:
        self._log(_WARN, message, meta)

    def info(self, message: str, meta: LogMeta = None) -> None:
        self._log(_INFO, message, meta)

    def debug(self, message: str, meta: LogMeta = None) -> None:
        self._log(_DEBUG, message, meta)

    def is_enabled(self, level: str) -> bool:
        return LEVELS[level] >= self._min_level

    def child(self, meta: Mapping[str, object]) -> StructuredLogger:
        return StructuredLogger(self._sink, level=self._min_level, fields={**self._fields, **meta})
