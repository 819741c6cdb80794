"""Cursors: base64 JSON, in Backstage's format so that its client can page with them.

A query cursor (`/entities/by-query`) carries everything needed for the next page:
`orderFields`, `fullTextFilter`, `orderFieldValues` (the sort values of the page's edge
row, then its uid; one value per order field, as every order field is honoured),
`filter` (the predicate of the `filter=` parameters, in Backstage's legacy form, which
keeps its client on GET) or `query` (a predicate from a body: Backstage's client sends the
next page as a POST when that key is present), `isPrevious`,
`firstSortFieldValues` and `totalItems`; and `limit`, the page size that made it, used
when the next request does not give one.

An `after` cursor (`GET /entities`) is `{"limit", "offset"}` as in Backstage, plus
`keyset`, the sort values of the last row served, so that the next page is a keyset seek
rather than an OFFSET scan. A cursor without `keyset` (e.g. made by hand) still works.

A cursor comes from the client: whatever it carries is checked exactly as the same
input given fresh (JSON nesting and NUL characters, 32-bit integers, the depth and
size of its filter, the number of its order and full-text fields). In memory a cursor
carries its filter parsed, so a request parses its filter once, and only from its input.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import msgspec
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import (
    Predicate,
    check_predicate_limits,
    combine_all,
    legacy_filter_from_predicate,
    parse_predicate,
    predicate_from_legacy_filter,
)

from backstage_plugin_catalog_backend.api._input import (
    MAX_FULL_TEXT_FIELDS,
    MAX_INTEGER,
    MAX_ORDER_FIELDS,
    check_count,
    decode_json,
)
from backstage_plugin_catalog_backend.api._ordering import OrderField

__all__ = [
    "AfterCursor",
    "QueryCursor",
    "SortValues",
    "decode_after_cursor",
    "decode_query_cursor",
    "encode_after_cursor",
    "encode_query_cursor",
]

SortValues = list[str | None]

_encode = msgspec.json.Encoder()


@dataclass
class QueryCursor:
    """What a page of a query needs: from a request, or from the cursor of a previous page.

    `filter` is the predicate of the `filter=` parameters and `query` the one of a body,
    both parsed; `predicate` is what the entities must match (both of them).
    """

    order_fields: list[OrderField]
    order_field_values: SortValues | None = None
    full_text_term: str | None = None
    full_text_fields: list[str] | None = None
    filter: Predicate | None = None
    query: Predicate | None = None
    is_previous: bool = False
    first_sort_field_values: SortValues | None = None
    total_items: int | None = None
    limit: int | None = None
    predicate: Predicate | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        check_count(len(self.order_fields), MAX_ORDER_FIELDS, "order fields")
        check_count(len(self.full_text_fields or ()), MAX_FULL_TEXT_FIELDS, "full text fields")
        self.predicate = combine_all([self.filter, self.query])
        # each is within the limits; together they may not be
        check_predicate_limits(self.predicate)


def _b64decode(text: str) -> bytes:
    cleaned = text.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)


def _decode(text: str) -> Any:
    try:
        return decode_json(_b64decode(text), "cursor")
    except (binascii.Error, ValueError, InputError) as error:
        raise InputError(f"Malformed cursor: {error}") from None


def _is_count(value: object) -> bool:
    """A non-negative integer that fits the database's 32-bit LIMIT and OFFSET."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INTEGER


def _sort_values(value: object, name: str) -> SortValues:
    if not isinstance(value, list) or not all(v is None or isinstance(v, str) for v in value):
        raise InputError(f"Malformed cursor: {name} must be an array of strings or nulls")
    return value


def _optional_sort_values(data: dict[str, Any], key: str) -> SortValues | None:
    return _sort_values(data[key], key) if key in data else None


def _order_fields(value: object) -> list[OrderField]:
    if not isinstance(value, list):
        raise InputError("Malformed cursor: orderFields must be an array")
    fields = []
    for item in value:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("field"), str)
            or item.get("order") not in ("asc", "desc")
        ):
            raise InputError("Malformed cursor: invalid orderFields")
        fields.append(OrderField(item["field"], item["order"]))
    return fields


def _full_text(data: dict[str, Any]) -> tuple[str | None, list[str] | None]:
    value = data.get("fullTextFilter")
    if value is None:
        return None, None
    term = value.get("term") if isinstance(value, dict) else None
    fields = value.get("fields") if isinstance(value, dict) else None
    if not isinstance(term, str) or (
        fields is not None
        and (not isinstance(fields, list) or not all(isinstance(f, str) for f in fields))
    ):
        raise InputError("Malformed cursor: invalid fullTextFilter")
    return term, fields


def decode_query_cursor(text: str) -> QueryCursor:
    data = _decode(text)
    if not isinstance(data, dict):
        raise InputError("Malformed cursor: expected a JSON object")
    if "orderFieldValues" not in data or not isinstance(data.get("isPrevious"), bool):
        raise InputError("Malformed cursor: orderFieldValues and isPrevious are required")
    total = data.get("totalItems")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool)):
        raise InputError("Malformed cursor: totalItems must be a number")
    limit = data.get("limit")
    if limit is not None and not _is_count(limit):
        raise InputError(f"Malformed cursor: limit must be a number from 0 to {MAX_INTEGER}")
    query = data.get("query")
    if query is not None:
        query = parse_predicate(query, "Malformed cursor: ")
    term, fields = _full_text(data)
    order_fields = _order_fields(data.get("orderFields"))
    values = _sort_values(data["orderFieldValues"], "orderFieldValues")
    if len(values) != len(order_fields) + 1:
        raise InputError("Malformed cursor: orderFieldValues do not match orderFields")
    legacy = data.get("filter")
    filter_predicate = None if legacy is None else predicate_from_legacy_filter(legacy)
    return QueryCursor(
        order_fields=order_fields,
        order_field_values=values,
        full_text_term=term,
        full_text_fields=fields,
        filter=filter_predicate,
        query=query,
        is_previous=data["isPrevious"],
        first_sort_field_values=_optional_sort_values(data, "firstSortFieldValues"),
        total_items=total,
        limit=limit,
    )


def encode_query_cursor(cursor: QueryCursor) -> str:
    data: dict[str, Any] = {
        "orderFields": [{"field": f.field, "order": f.order} for f in cursor.order_fields],
    }
    if cursor.full_text_term is not None:
        data["fullTextFilter"] = {
            "term": cursor.full_text_term,
            **({"fields": cursor.full_text_fields} if cursor.full_text_fields else {}),
        }
    data["orderFieldValues"] = cursor.order_field_values or []
    if cursor.filter is not None:
        data["filter"] = legacy_filter_from_predicate(cursor.filter)
    if cursor.query is not None:
        data["query"] = cursor.query
    data["isPrevious"] = cursor.is_previous
    if cursor.first_sort_field_values is not None:
        data["firstSortFieldValues"] = cursor.first_sort_field_values
    if cursor.total_items is not None:
        data["totalItems"] = cursor.total_items
    if cursor.limit is not None:
        data["limit"] = cursor.limit
    return base64.b64encode(_encode.encode(data)).decode()


@dataclass(frozen=True)
class AfterCursor:
    limit: int | None
    offset: int | None
    keyset: SortValues | None


def decode_after_cursor(text: str) -> AfterCursor:
    try:
        data = decode_json(_b64decode(text), "after cursor")
    except (binascii.Error, ValueError, InputError):
        raise InputError("Malformed after cursor, could not be parsed") from None
    if not isinstance(data, dict):
        raise InputError("Malformed after cursor, could not be parsed")
    limit, offset = data.get("limit"), data.get("offset")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
        raise InputError("Malformed after cursor, limit was not an number")
    if offset is not None and (not isinstance(offset, int) or isinstance(offset, bool)):
        raise InputError("Malformed after cursor, offset was not a number")
    if not all(value is None or _is_count(value) for value in (limit, offset)):
        raise InputError(
            f"Malformed after cursor, limit and offset must be from 0 to {MAX_INTEGER}"
        )
    keyset = data.get("keyset")
    if keyset is not None and (
        not isinstance(keyset, list) or not all(v is None or isinstance(v, str) for v in keyset)
    ):
        raise InputError("Malformed after cursor, keyset was not a list of strings")
    return AfterCursor(limit=limit, offset=offset, keyset=keyset)


def encode_after_cursor(limit: int, offset: int, keyset: SortValues) -> str:
    data = {"limit": limit, "offset": offset, "keyset": keyset}
    return base64.b64encode(_encode.encode(data)).decode()
