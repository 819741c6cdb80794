"""Formatting log entries as JSON lines or readable text, and writing them out."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Literal

import msgspec

__all__ = ["LEVELS", "LogFormat", "LogSink", "describe_error", "stdout_writer"]

LogFormat = Literal["json", "text"]
LEVELS: dict[str, int] = {"debug": 10, "info": 20, "warn": 30, "error": 40}
_LEVEL_NAMES = {value: name for name, value in LEVELS.items()}

_encoder = msgspec.json.Encoder(enc_hook=str)


def stdout_writer() -> Callable[[bytes], None]:
    """Write each entry to standard output with one unbuffered write, so nothing lags."""
    fd = sys.stdout.fileno()

    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    return write


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

    __slots__ = ("format", "with_stacks", "write")

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

    def emit(self, level: int, message: str, fields: Mapping[str, object]) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        name = _LEVEL_NAMES.get(level, "info")
        if self.format == "json":
            line = _encoder.encode({"timestamp": now, "level": name, "message": message, **fields})
            self.write(line + b"\n")
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
