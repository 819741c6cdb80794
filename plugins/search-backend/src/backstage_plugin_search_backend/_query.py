"""From the parameters of `GET /query` to a `SearchQuery`, with Backstage's 400s."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from backstage_common.errors import InputError
from backstage_plugin_search_node import FilterValue, SearchQuery

from backstage_plugin_search_backend._settings import SearchSettings

__all__ = ["read_search_query"]

_INTEGER = re.compile(r"^[+-]?[0-9]+$")


def _type_error(name: str, expected: str) -> InputError:
    return InputError(f"request/query/{name} must be {expected}")


def _invalid(message: str, path: list[str | int]) -> InputError:
    issue = {"code": "custom", "message": message, "path": path}
    return InputError(f"Invalid query string: {json.dumps([issue])}")


def _string(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _type_error(name, "string")


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _term(params: Mapping[str, Any], settings: SearchSettings) -> str:
    term = _string(params, "term") or ""
    length = _utf16_length(term)
    if length > settings.max_term_length:
        raise _invalid(
            f'The term length "{length}" is greater than "{settings.max_term_length}"', ["term"]
        )
    return term


def _types(params: Mapping[str, Any], known: Collection[str]) -> tuple[str, ...]:
    value = params.get("types")
    if value is None:
        return tuple(known)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise _type_error("types", "array")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise _type_error(f"types/{index}", "string")
        if item not in known:
            raise _invalid(
                f"Unknown type '{item}', known types are: {', '.join(sorted(known)) or 'none'}",
                ["types", index],
            )
    return tuple(dict.fromkeys(items))


def _filter_value(key: str, value: Any) -> FilterValue:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise _invalid(f"The filter '{key}' must be a value or a list of values", ["filters", key])


def _filters(params: Mapping[str, Any]) -> dict[str, FilterValue]:
    value = params.get("filters")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error("filters", "object")
    return {key: _filter_value(key, item) for key, item in value.items()}


def _page_limit(params: Mapping[str, Any], settings: SearchSettings) -> int | None:
    value = _string(params, "pageLimit")
    if value is None:
        return None
    if not _INTEGER.match(value):
        raise _type_error("pageLimit", "integer")
    limit = int(value)
    if limit > settings.max_page_limit:
        raise _invalid(
            f'The page limit "{limit}" is greater than "{settings.max_page_limit}"',
            ["pageLimit"],
        )
    if limit < 0:
        raise _invalid(f'The page limit "{limit}" is negative', ["pageLimit"])
    return limit


def read_search_query(
    params: Mapping[str, Any], *, known_types: Collection[str], settings: SearchSettings
) -> SearchQuery:
    """The query the parameters describe; InputError (400) for anything malformed.

    Without `types` every known type is searched; `pageLimit` 0 means the default page."""
    return SearchQuery(
        term=_term(params, settings),
        types=_types(params, known_types),
        filters=_filters(params),
        page_limit=_page_limit(params, settings),
        page_cursor=_string(params, "pageCursor"),
    )
