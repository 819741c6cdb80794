"""core.rootLogger and core.logger: structured logs, one line per entry.

Config: `backend.logging.level` (debug, info, warn, error; `LOG_LEVEL` wins, Backstage's
`backend.logger.level` is read too), `backend.logging.format` (`json` or `text`; by default
text on a terminal, JSON otherwise), `backend.logger.meta` (fields added to every entry),
`backend.logging.repeatInterval` (repeated failures counted into one summary per interval,
default 10 s, 0: each logged in full), `backend.logging.maxLineLength` (bytes, default 32 KiB;
longer lines have their longest values cut in the middle).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping

from backstage_backend_plugin_api import LoggerService, RootConfigService, create_service_factory
from backstage_backend_plugin_api import core_services as core
from backstage_common.durations import read_optional_duration
from backstage_common.errors import InputError

from backstage_backend_defaults.logger._describe import error_message, redact_message
from backstage_backend_defaults.logger._logger import StructuredLogger
from backstage_backend_defaults.logger._repeats import RepeatedFailures
from backstage_backend_defaults.logger._sink import (
    DEFAULT_MAX_LINE_LENGTH,
    LEVELS,
    BatchingWriter,
    DeferredLines,
    LogFormat,
    LogSink,
    stdout_writer,
)

__all__ = [
    "BatchingWriter",
    "DeferredLines",
    "LogFormat",
    "LogSink",
    "RepeatedFailures",
    "StdlibLogBridge",
    "StructuredLogger",
    "create_root_logger",
    "error_message",
    "logger_service_factory",
    "redact_message",
    "root_logger_service_factory",
]


def _read_level(config: RootConfigService, env: Mapping[str, str]) -> int:
    key = "LOG_LEVEL"
    value = env.get("LOG_LEVEL")
    if not value:
        for key in ("backend.logging.level", "backend.logger.level"):
            value = config.get_optional_string(key)
            if value:
                break
    name = (value or "info").lower()
    if name == "warning":
        name = "warn"
    if name not in LEVELS:
        raise InputError(f"Invalid log level '{value}' in '{key}', use one of {', '.join(LEVELS)}")
    return LEVELS[name]


def _read_format(config: RootConfigService) -> LogFormat:
    value = config.get_optional_string("backend.logging.format")
    if value is None:
        return "text" if sys.stdout.isatty() else "json"
    if value not in ("json", "text"):
        raise InputError(f"Invalid value '{value}' for 'backend.logging.format', use json or text")
    return "json" if value == "json" else "text"


_SHORTEST_LINE = 1024


def _read_max_line_length(config: RootConfigService) -> int:
    key = "backend.logging.maxLineLength"
    value = config.get_optional_number(key)
    if value is None:
        return DEFAULT_MAX_LINE_LENGTH
    if not float(value).is_integer() or value < _SHORTEST_LINE:
        raise InputError(f"Invalid '{key}': {value}, use a number of bytes of at least 1024")
    return int(value)


def _read_repeat_interval(config: RootConfigService) -> float:
    value = read_optional_duration(config, "backend.logging.repeatInterval")
    return 10.0 if value is None else value.total_seconds()


def create_root_logger(
    config: RootConfigService,
    *,
    write: Callable[[bytes], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> StructuredLogger:
    """The root logger as configured; `write` replaces standard output (tests use it)."""
    sink = LogSink(
        format=_read_format(config),
        write=write or stdout_writer(),
        max_line_length=_read_max_line_length(config),
        repeat_interval=_read_repeat_interval(config),
    )
    meta = config.get_optional_config("backend.logger.meta")
    fields: dict[str, object] = {"service": "backstage"}
    if meta is not None:
        fields.update({key: meta.get(key) for key in meta.keys()})
    return StructuredLogger(sink, level=_read_level(config, env or os.environ), fields=fields)


class StdlibLogBridge(logging.Handler):
    """Sends records of libraries that use `logging` (SQLAlchemy, httpx, ...) to our logger."""

    def __init__(self, logger: StructuredLogger) -> None:
        super().__init__()
        self._logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        meta: dict[str, object] = {"logger": record.name}
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            level = LEVELS["error"]
        elif record.levelno >= logging.WARNING:
            level = LEVELS["warn"]
        elif record.levelno >= logging.INFO:
            level = LEVELS["info"]
        else:
            level = LEVELS["debug"]
        if record.exc_info and record.exc_info[1] is not None:
            self._logger.log_error(level, message, record.exc_info[1], meta)
            return
        if level >= LEVELS["error"]:
            self._logger.error(message, meta)
        elif level >= LEVELS["warn"]:
            self._logger.warn(message, meta)
        elif level >= LEVELS["info"]:
            self._logger.info(message, meta)
        else:
            self._logger.debug(message, meta)


def _root_logger(config: core.RootConfig) -> StructuredLogger:
    return create_root_logger(config)


def _plugin_logger(root: core.RootLogger, metadata: core.PluginMetadata) -> LoggerService:
    return root.child({"plugin": metadata.get_id()})


root_logger_service_factory = create_service_factory(service=core.root_logger, factory=_root_logger)
logger_service_factory = create_service_factory(service=core.logger, factory=_plugin_logger)
