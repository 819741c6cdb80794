"""core.rootLogger and core.logger: structured logging."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

__all__ = ["LogMeta", "LoggerService", "RootLoggerService"]

LogMeta = Mapping[str, object] | BaseException | None


class LoggerService(Protocol):
    """A structured logger; `meta` adds fields to the entry, or describes an error (an
    exception, or an exception as `meta["error"]` next to other fields)."""

    def error(self, message: str, meta: LogMeta = None) -> None: ...

    def warn(self, message: str, meta: LogMeta = None) -> None: ...

    def info(self, message: str, meta: LogMeta = None) -> None: ...

    def debug(self, message: str, meta: LogMeta = None) -> None: ...

    def child(self, meta: Mapping[str, object]) -> LoggerService:
        """A logger whose entries all carry `meta` as well."""
        ...


class RootLoggerService(LoggerService, Protocol):
    """The backend's logger; every plugin logger is a child of it."""
