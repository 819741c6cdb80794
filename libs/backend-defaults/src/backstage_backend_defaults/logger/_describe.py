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

__all__ = ["ErrorText", "describe_error", "error_message", "redact_message"]

STATEMENT_CHARS = 200
"""Characters of a failed statement kept in its error's logged message."""
_DRIVER_MODULES = ("sqlalchemy", "asyncpg", "psycopg", "sqlite3", "aiosqlite")
_SEARCHED_VALUES = 1_000
"""Bound values looked for anywhere in an error's text (a statement may carry 100,000)."""
_KNOWN_VALUES = 10_000
"""Bound values recognised where the text quotes something."""
_SHORTEST_VALUE = 3
"""Shorter values (flags, small numbers) would mark most of the text and are no secret."""
_REDACTED = "[REDACTED]"
_TEXT_CHARS = 8192
"""Characters of one message of a database error kept: bounds the search for its values."""
# asyncpg names the offending argument and quotes its value in the rest of the line.
_QUERY_ARGUMENT = re.compile(r"(invalid input for query argument \$\d+): .*")
# Postgres quotes an offending value after a colon or the word "value" (`invalid input
# syntax for type integer: "..."`, `value "..." is out of range`); the names of
# constraints, tables and columns it quotes otherwise are kept.
_QUOTED_VALUE = re.compile(r'(: |value )"[^"]*"')
_QUOTED = re.compile(r"\"([^\"]*)\"|'([^']*)'|\(([^()]*)\)")
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


def _values(params: object) -> list[str]:
    """The bound values in `params` (a statement's, or a batch's), as they may be quoted."""
    found: list[str] = []
    pending = [params]
    while pending and len(found) < _KNOWN_VALUES:
        item = pending.pop()
        if isinstance(item, bytes | bytearray):
            item = bytes(item).decode("utf-8", "replace")
        if isinstance(item, str):
            if len(item) >= _SHORTEST_VALUE:
                found.append(item)
        # a dict, the usual case, is told apart before the slower check of the ABC
        elif type(item) is dict or isinstance(item, Mapping):
            pending.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            pending.extend(reversed(item))
        elif isinstance(item, set | frozenset):
            pending.extend(item)
        elif item is not None and not isinstance(item, bool):
            pending.append(str(item))
    return found


class ErrorText:
    """An error's text as it may be logged; a database error's without its bound values
    and with its statement shortened."""

    __slots__ = ("database", "error", "known", "searched")

    def __init__(self, error: BaseException) -> None:
        self.error = error
        statement_error = _statement_error_type()
        values: list[str] = []
        database = False
        for item, _ in _chain(error):
            if statement_error is not None and isinstance(item, statement_error):
                values.extend(_values(getattr(item, "params", None)))
            database = database or _is_driver_error(item)
        self.database = database
        self.known = frozenset(values)
        # Longest first, so a value that contains another is replaced whole.
        self.searched = sorted(set(values[:_SEARCHED_VALUES]), key=len, reverse=True)

    def _quoted(self, match: re.Match[str]) -> str:
        inner = match.group(1) or match.group(2) or match.group(3)
        if inner is None or inner not in self.known:
            return match.group(0)
        return match.group(0).replace(inner, _REDACTED)

    def redact(self, text: str) -> str:
        """`text` (a log message that may quote the error) without what it must not hold."""
        if not self.database:
            return text
        cut = text.find(_SQL_TAIL)
        if cut != -1:
            text = text[:cut]
        if len(text) > _TEXT_CHARS:
            text = f"{text[:_TEXT_CHARS]}...[{len(text) - _TEXT_CHARS} characters cut]"
        text = _QUERY_ARGUMENT.sub(rf"\1: {_REDACTED}", text)
        text = _QUOTED_VALUE.sub(rf'\1"{_REDACTED}"', text)
        if self.known:
            text = _QUOTED.sub(self._quoted, text)
        for value in self.searched:
            if len(value) <= len(text) and value in text:
                text = text.replace(value, _REDACTED)
        return text

    def describe(self, *, with_stack: bool) -> dict[str, object]:
        """The error as a log field: `name`, `message` and, if asked, `stack`."""
        error = self.error
        described: dict[str, object] = {
            "name": getattr(error, "name", type(error).__name__),
            "message": self.message(error),
        }
        if with_stack:
            if self.database:
                described["stack"] = self.stack(error)
            else:
                described["stack"] = "".join(traceback.format_exception(error))
        return described

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
            return self.redact(f"{text} [SQL: {statement}]")
        if _is_driver_error(error):
            return self.redact(_first_line(str(error)))
        return self.redact(str(error))

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
    return ErrorText(error).message(error)


def redact_message(message: str, error: BaseException) -> str:
    """A log message that may quote `error` (`f"Task failed, {error}"`), made safe."""
    return ErrorText(error).redact(message)


def describe_error(error: BaseException, *, with_stack: bool) -> dict[str, object]:
    return ErrorText(error).describe(with_stack=with_stack)
