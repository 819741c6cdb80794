"""Errors as log fields, without what database errors would otherwise write out.

SQLAlchemy's error text holds the whole statement and every bound parameter
(`[parameters: ...]`); the driver's adds more of the values (`DETAIL:  Key (name)=(value)
already exists`, `invalid input for query argument $1: 'value'`). A logged database error
keeps the driver's first line and the statement's first 200 characters; any bound value
found in the text of the error or its causes is replaced by a marker.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Iterator, Mapping

__all__ = ["describe_error", "error_message", "redact_message"]

STATEMENT_CHARS = 200
"""Characters of a failed statement kept in its error's logged message."""
_DRIVER_MODULES = ("sqlalchemy", "asyncpg", "psycopg", "sqlite3", "aiosqlite")
_CHECKED_VALUES = 10_000
"""Bound values looked for in an error's text (a statement may carry 100,000)."""
_SHORTEST_VALUE = 3
"""Shorter values (flags, small numbers) would mark most of the text and are no secret."""
_REDACTED = "[REDACTED]"
# asyncpg names the offending argument and quotes its value in the rest of the line.
_QUERY_ARGUMENT = re.compile(r"(invalid input for query argument \$\d+): .*")
_SQL_TAIL = "\n[SQL: "


def _statement_error_type() -> type[BaseException] | None:
    """SQLAlchemy's error with `statement` and `params`, without importing SQLAlchemy into
    processes that lack it."""
    module = sys.modules.get("sqlalchemy.exc")
    cls = getattr(module, "StatementError", None) if module is not None else None
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else None


def _chain(error: BaseException) -> Iterator[tuple[BaseException, str | None]]:
    """The error and its causes, each with how it follows the next one (as `traceback`
    prints them: newest first here)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            link: str | None = "cause"
            following: BaseException | None = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            link, following = "context", current.__context__
        else:
            link, following = None, None
        yield current, link
        current = following


def _is_driver_error(error: BaseException) -> bool:
    return type(error).__module__.split(".", 1)[0] in _DRIVER_MODULES


def _values(params: object, found: list[str]) -> None:
    if len(found) >= _CHECKED_VALUES:
        return
    if isinstance(params, str):
        if len(params) >= _SHORTEST_VALUE:
            found.append(params)
    elif isinstance(params, bytes | bytearray):
        _values(bytes(params).decode("utf-8", "replace"), found)
    elif isinstance(params, Mapping):
        for value in params.values():
            _values(value, found)
    elif isinstance(params, list | tuple | set | frozenset):
        for value in params:
            _values(value, found)
    elif params is not None and not isinstance(params, bool):
        _values(str(params), found)


class _Redactor:
    """What must not reach a log for one error: its bound values and statements."""

    __slots__ = ("database", "values")

    def __init__(self, error: BaseException) -> None:
        statement_error = _statement_error_type()
        values: list[str] = []
        database = False
        for item, _ in _chain(error):
            if statement_error is not None and isinstance(item, statement_error):
                _values(getattr(item, "params", None), values)
            database = database or _is_driver_error(item)
        # Longest first, so a value that contains another is replaced whole.
        self.values = sorted(set(values), key=len, reverse=True)
        self.database = database

    def text(self, text: str) -> str:
        cut = text.find(_SQL_TAIL)
        if cut != -1:
            text = text[:cut]
        text = _QUERY_ARGUMENT.sub(rf"\1: {_REDACTED}", text)
        for value in self.values:
            if len(value) <= len(text) and value in text:
                text = text.replace(value, _REDACTED)
        return text

    def message(self, error: BaseException) -> str:
        if not self.database:
            return str(error)
        statement_error = _statement_error_type()
        if statement_error is not None and isinstance(error, statement_error):
            orig = getattr(error, "orig", None)
            if orig is not None:
                origin = f"({type(orig).__module__}.{type(orig).__name__}) "
                text = origin + _first_line(str(orig))
            else:
                text = _first_line(str(error.args[0]) if error.args else "")
            statement = str(getattr(error, "statement", "") or "")
            if len(statement) > STATEMENT_CHARS:
                statement = statement[:STATEMENT_CHARS] + "..."
            return self.text(f"{text} [SQL: {statement}]")
        if _is_driver_error(error):
            return self.text(_first_line(str(error)))
        return self.text(str(error))

    def stack(self, error: BaseException) -> str:
        """As `traceback.format_exception` writes it, with each message made safe."""
        parts: list[str] = []  # newest first, reversed at the end
        for item, link in _chain(error):
            cls = type(item)
            name = cls.__qualname__
            if cls.__module__ not in ("builtins", "__main__"):
                name = f"{cls.__module__}.{name}"
            message = self.message(item)
            block = f"{name}: {message}\n" if message else f"{name}\n"
            if item.__traceback__ is not None:
                frames = "".join(traceback.format_tb(item.__traceback__))
                block = f"Traceback (most recent call last):\n{frames}{block}"
            parts.append(block)
            if link == "cause":
                parts.append(
                    "\nThe above exception was the direct cause of the following exception:\n\n"
                )
            elif link == "context":
                parts.append(
                    "\nDuring handling of the above exception, another exception occurred:\n\n"
                )
        return "".join(reversed(parts))


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def error_message(error: BaseException) -> str:
    """The error's message as it may be logged."""
    return _Redactor(error).message(error)


def redact_message(message: str, error: BaseException) -> str:
    """A log message that may quote `error` (`f"Task failed, {error}"`), made safe."""
    redactor = _Redactor(error)
    return redactor.text(message) if redactor.database else message


def describe_error(error: BaseException, *, with_stack: bool) -> dict[str, object]:
    redactor = _Redactor(error)
    described: dict[str, object] = {
        "name": getattr(error, "name", type(error).__name__),
        "message": redactor.message(error),
    }
    if with_stack:
        if redactor.database:
            described["stack"] = redactor.stack(error)
        else:
            described["stack"] = "".join(traceback.format_exception(error))
    return described
