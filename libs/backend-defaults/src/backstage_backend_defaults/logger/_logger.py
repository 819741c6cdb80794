"""The structured logger behind core.rootLogger and core.logger."""

from __future__ import annotations

from collections.abc import Mapping

from backstage_backend_plugin_api import LogMeta

from backstage_backend_defaults.logger._describe import ErrorText
from backstage_backend_defaults.logger._repeats import Admission, failure_shape
from backstage_backend_defaults.logger._sink import LEVELS, LogSink

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
            self.log_error(level, message, meta)
            return
        else:
            error = meta.get("error")
            if isinstance(error, BaseException | Mapping):
                self.log_error(level, message, error, meta)
                return
            fields = {**self._fields, **meta} if self._fields else meta
        self._sink.emit(level, message, fields)

    def log_error(
        self,
        level: int,
        message: str,
        error: BaseException | Mapping[str, object],
        meta: Mapping[str, object] | None = None,
    ) -> None:
        """An entry describing `error` (an exception, or its `name` and `message`), with
        `meta`'s other fields.

        Warnings and errors repeated within the sink's interval are counted into one
        summary line (see RepeatedFailures); database errors are logged without their bound
        values."""
        if level < self._min_level:
            return
        sink = self._sink
        fields = {**self._fields, **meta} if meta else self._fields
        text: ErrorText | None = None
        if isinstance(error, BaseException):
            text = ErrorText(error)
            message = text.redact(message)
            brief = text.describe(with_stack=False)
        else:
            brief = dict(error)
        with_stack = sink.with_stacks and text is not None
        if level >= _WARN:
            key = (
                level,
                fields.get("plugin"),
                fields.get("logger"),
                str(brief.get("name")),
                failure_shape(message),
                failure_shape(str(brief.get("message"))),
            )
            admission = sink.repeats.admit(key, level, message, {**fields, "error": brief})
            if admission is Admission.COUNTED:
                return
            if admission is Admission.BRIEF:
                with_stack = False
        if with_stack and text is not None:
            brief = text.describe(with_stack=True)
        sink.emit(level, message, {**fields, "error": brief})

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
