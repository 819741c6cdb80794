"""A logger that records its entries, for `core.rootLogger` and `core.logger` in tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from backstage_backend_plugin_api import (
    LoggerService,
    LogMeta,
    RootLoggerService,
    ServiceFactory,
    create_service_factory,
)
from backstage_backend_plugin_api import core_services as core

__all__ = [
    "CapturingLogger",
    "LogEntry",
    "LogLevel",
    "mock_logger_factory",
    "mock_root_logger_factory",
]

LogLevel = Literal["debug", "info", "warn", "error"]
_RANKS: dict[str, int] = {"debug": 10, "info": 20, "warn": 30, "error": 40, "none": 100}


@dataclass(frozen=True)
class LogEntry:
    """One recorded entry: its level, message and fields (the logger's and the call's).

    An exception given as `meta` is recorded under the `error` field.
    """

    level: LogLevel
    message: str
    fields: Mapping[str, object] = field(default_factory=dict)


class CapturingLogger:
    """Records every entry at or above `level` in `entries`, a list its children share.

    `level="none"` records nothing.
    """

    __slots__ = ("_fields", "_rank", "entries")

    def __init__(
        self,
        level: LogLevel | Literal["none"] = "debug",
        *,
        fields: Mapping[str, object] | None = None,
        entries: list[LogEntry] | None = None,
    ) -> None:
        if level not in _RANKS:
            raise ValueError(f"Invalid log level '{level}', use one of {', '.join(_RANKS)}")
        self._rank = _RANKS[level]
        self._fields: dict[str, object] = dict(fields or {})
        self.entries: list[LogEntry] = entries if entries is not None else []

    @property
    def fields(self) -> Mapping[str, object]:
        return dict(self._fields)

    def _log(self, level: LogLevel, message: str, meta: LogMeta) -> None:
        if _RANKS[level] < self._rank:
            return
        if meta is None:
            fields = dict(self._fields)
        elif isinstance(meta, BaseException):
            fields = {**self._fields, "error": meta}
        else:
            fields = {**self._fields, **meta}
        self.entries.append(LogEntry(level, message, fields))

    def error(self, message: str, meta: LogMeta = None) -> None:
        self._log("error", message, meta)

    def warn(self, message: str, meta: LogMeta = None) -> None:
        self._log("warn", message, meta)

    def info(self, message: str, meta: LogMeta = None) -> None:
        self._log("info", message, meta)

    def debug(self, message: str, meta: LogMeta = None) -> None:
        self._log("debug", message, meta)

    def child(self, meta: Mapping[str, object]) -> CapturingLogger:
        child = CapturingLogger(fields={**self._fields, **meta}, entries=self.entries)
        child._rank = self._rank
        return child

    def messages(self, level: LogLevel | None = None) -> list[str]:
        """The recorded messages, optionally of one level only."""
        return [entry.message for entry in self.entries if level is None or entry.level == level]

    def matching(self, **fields: object) -> list[LogEntry]:
        """The entries whose fields include all of `fields`, e.g. `matching(plugin="x")`."""
        return [
            entry
            for entry in self.entries
            if all(key in entry.fields and entry.fields[key] == v for key, v in fields.items())
        ]

    def clear(self) -> None:
        self.entries.clear()


def mock_root_logger_factory(
    level: LogLevel | Literal["none"] = "debug", *, logger: CapturingLogger | None = None
) -> ServiceFactory[RootLoggerService]:
    """A root logger factory: `logger` when given, else a new `CapturingLogger(level)`.

    Read it back with `await backend.get_service(core_services.root_logger)`.
    """

    def create() -> RootLoggerService:
        return logger if logger is not None else CapturingLogger(level)

    return create_service_factory(service=core.root_logger, factory=create)


def mock_logger_factory() -> ServiceFactory[LoggerService]:
    """Each plugin's logger: a child of the root logger with a `plugin` field."""

    def create(root: core.RootLogger, metadata: core.PluginMetadata) -> LoggerService:
        return root.child({"plugin": metadata.get_id()})

    return create_service_factory(service=core.logger, factory=create)
