"""core.rootLogger and core.logger: structured logging."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

__all__ = ["LogMeta", "LoggerService", "RootLoggerService"]

LogMeta = Mapping[str, object] | BaseException | None
"""What a log call adds to its entry: fields, an exception (logged with its stack), or an
exception as `meta["error"]` next to other fields."""


class LoggerService(Protocol):
    """A structured logger; `meta` adds fields to the entry, or describes an error (an
    exception, or an exception as `meta["error"]` next to other fields)."""

    def error(self, message: str, meta: LogMeta = None) -> None:
        """Log at level `error`.

        Args:
            message: the entry's message.
            meta: fields to add to the entry, or an error (see `LogMeta`).
        """
        ...

    def warn(self, message: str, meta: LogMeta = None) -> None:
        """Log at level `warn`.

        Args:
            message: the entry's message.
            meta: fields to add to the entry, or an error (see `LogMeta`).
        """
        ...

    def info(self, message: str, meta: LogMeta = None) -> None:
        """Log at level `info`.

        Args:
            message: the entry's message.
            meta: fields to add to the entry, or an error (see `LogMeta`).
        """
        ...

    def debug(self, message: str, meta: LogMeta = None) -> None:
        """Log at level `debug`.

        Args:
            message: the entry's message.
            meta: fields to add to the entry, or an error (see `LogMeta`).
        """
        ...

    def child(self, meta: Mapping[str, object]) -> LoggerService:
        """A logger whose entries all carry `meta` as well.

        Args:
            meta: the fields every entry of the child carries.
        """
        ...


class RootLoggerService(LoggerService, Protocol):
    """The backend's logger; every plugin logger is a child of it."""
