"""Query parameters read strictly: unknown names are rejected, as Backstage's validator does,
and so are invalid UTF-8, NUL characters and integers past 32 bits, which the database
cannot take."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import unquote_to_bytes

from backstage_common.errors import InputError
from litestar import Request

from backstage_plugin_catalog_backend.api._input import check_integer, check_text

__all__ = ["QueryParams"]


def _check_utf8(query_string: bytes) -> None:
    """The framework reads invalid UTF-8 as replacement characters: a different value
    from the one sent, so it is refused instead."""
    try:
        unquote_to_bytes(query_string).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("request/query must be valid UTF-8") from None


class QueryParams:
    """The query parameters of a request, checked against the names the endpoint knows."""

    def __init__(self, request: Request[Any, Any, Any], allowed: Collection[str]) -> None:
        _check_utf8(request.scope.get("query_string", b""))
        self._values: dict[str, list[str]] = {}
        for name, value in request.query_params.multi_items():
            if name not in allowed:
                raise InputError(f"Unknown query parameter '{name}'")
            check_text(value, f"request/query/{name}")
            self._values.setdefault(name, []).append(value)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def all(self, name: str) -> list[str]:
        return self._values.get(name, [])

    def one(self, name: str) -> str | None:
        values = self._values.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise InputError(f"request/query/{name} must be string")
        return values[0]

    def integer(self, name: str) -> int | None:
        text = self.one(name)
        if text is None:
            return None
        stripped = text.strip()
        digits = stripped[1:] if stripped.startswith("-") else stripped
        if not digits.isdigit():
            raise InputError(f"request/query/{name} must be integer")
        return check_integer(int(stripped), f"request/query/{name}")
