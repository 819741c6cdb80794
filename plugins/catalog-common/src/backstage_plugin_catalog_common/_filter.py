"""The entity filter: the `filter=` query parameter's grammar, its client-side form and the
legacy filter objects that query cursors carry, all as one predicate model.

Each `filter` parameter is one set of comma-separated statements `key=value`, `key=` or
`key`; statements with different keys are ANDed, values of one key are ORed, and the sets
are ORed. Values cannot hold commas, as in Backstage. Client-side, the same filter is an
`EntityFilterQuery`: a mapping (one set) or a sequence of mappings (sets ORed).

The legacy form (`{key, values?}`, `{allOf}`, `{anyOf}`, `{not}`) is what Backstage puts in
the `filter` key of a query cursor; it is read as untrusted input and written from the
predicate, never from the filter text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from backstage_common.errors import InputError

from backstage_plugin_catalog_common._predicates import (
    Predicate,
    check_predicate_limits,
    predicate_problem,
)

__all__ = [
    "CATALOG_FILTER_EXISTS",
    "EntityFilterQuery",
    "LegacyFilter",
    "entity_filter_params",
    "entity_filter_predicate",
    "legacy_filter_from_predicate",
    "parse_entity_filter",
    "predicate_from_legacy_filter",
]

LegacyFilter = dict[str, Any]
"""A filter in the legacy form of Backstage's query cursors."""


class _Exists:
    def __repr__(self) -> str:
        return "CATALOG_FILTER_EXISTS"


CATALOG_FILTER_EXISTS: Final = _Exists()
"""A filter value matching every entity that has the key, whatever its value."""

FilterValue = str | Sequence[str] | _Exists
EntityFilterQuery = Mapping[str, FilterValue] | Sequence[Mapping[str, FilterValue]]
"""One filter set (keys ANDed, listed values ORed) or several sets (ORed)."""

_Statements = list[tuple[str, list[str] | None]]


def _parse_set(text: str) -> _Statements:
    by_key: dict[str, list[str] | None] = {}
    for raw in text.split(","):
        statement = raw.strip()
        if not statement:
            continue
        key, equals, value = statement.partition("=")
        key = key.strip()
        if not key:
            raise InputError(
                f"Invalid filter, '{statement}' is not a valid statement "
                "(expected a string on the form a=b or a= or a)"
            )
        values = by_key.setdefault(key, None)
        if equals:
            by_key[key] = [*(values or []), value.strip()]
    return list(by_key.items())


def _statement_predicate(key: str, values: Sequence[str] | None) -> Predicate:
    if values is None:
        return {key: {"$exists": True}}
    if len(values) == 1:
        return {key: values[0]}
    return {key: {"$in": list(values)}}


def _sets_predicate(sets: Sequence[_Statements]) -> Predicate | None:
    predicates: list[Predicate] = []
    for statements in sets:
        parts = [_statement_predicate(key, values) for key, values in statements]
        predicates.append(parts[0] if len(parts) == 1 else {"$all": parts})
    if not predicates:
        return None
    return predicates[0] if len(predicates) == 1 else {"$any": predicates}


def parse_entity_filter(texts: Sequence[str]) -> Predicate | None:
    """The `filter` query parameters as one predicate, or None when they filter nothing.

    Args:
        texts: the values of every `filter` parameter of the request, in order.

    Raises:
        InputError: a statement has no key or names an operator (`$...`), or the filter
            holds more than the predicate limits allow.
    """
    predicate = _sets_predicate([parsed for parsed in map(_parse_set, texts) if parsed])
    check_predicate_limits(predicate)
    problem = None if predicate is None else predicate_problem(predicate, "filter")
    if problem:
        raise InputError(f"Invalid filter, {problem}")
    return predicate


def _client_sets(filter: EntityFilterQuery | None) -> list[_Statements]:
    if filter is None:
        return []
    sets = [filter] if isinstance(filter, Mapping) else list(filter)
    parsed: list[_Statements] = []
    for filter_set in sets:
        statements: _Statements = []
        for key, value in filter_set.items():
            if isinstance(value, _Exists):
                statements.append((key, None))
            else:
                statements.append((key, [value] if isinstance(value, str) else list(value)))
        if statements:
            parsed.append(statements)
    return parsed


def entity_filter_params(filter: EntityFilterQuery | None) -> list[str]:
    """The `filter` query parameter values that send `filter`, one per set.

    Args:
        filter: one set of `key: value(s) | CATALOG_FILTER_EXISTS`, several sets, or None.
    """
    params: list[str] = []
    for statements in _client_sets(filter):
        texts = [
            text
            for key, values in statements
            for text in ([key] if values is None else [f"{key}={value}" for value in values])
        ]
        if texts:
            params.append(",".join(texts))
    return params


def entity_filter_predicate(filter: EntityFilterQuery | None) -> Predicate | None:
    """`filter` as a predicate (the one the server parses its `filter` parameters into),
    to be combined with a `query`; None when it filters nothing.

    Args:
        filter: one set of `key: value(s) | CATALOG_FILTER_EXISTS`, several sets, or None.
    """
    return _sets_predicate(_client_sets(filter))


def _legacy_problem(value: object) -> bool:
    if not isinstance(value, dict):
        return True
    if "key" in value:
        values = value.get("values")
        return not isinstance(value["key"], str) or (
            values is not None
            and (not isinstance(values, list) or not all(isinstance(v, str) for v in values))
        )
    if "not" in value:
        return _legacy_problem(value["not"])
    for name in ("anyOf", "allOf"):
        if name in value:
            items = value[name]
            return not isinstance(items, list) or any(_legacy_problem(item) for item in items)
    return True


def _legacy_to_predicate(value: Any) -> Predicate:
    if "key" in value:
        return _statement_predicate(value["key"], value.get("values"))
    if "not" in value:
        return {"$not": _legacy_to_predicate(value["not"])}
    if "anyOf" in value:
        return {"$any": [_legacy_to_predicate(item) for item in value["anyOf"]]}
    return {"$all": [_legacy_to_predicate(item) for item in value["allOf"]]}


def predicate_from_legacy_filter(value: object) -> Predicate:
    """A legacy filter object (from a cursor) as a predicate, checked as fresh input.

    Args:
        value: any decoded JSON value.

    Raises:
        InputError: it is malformed, or nests deeper or holds more than a predicate given
            directly may.
    """
    if _legacy_problem(value):
        raise InputError("Malformed cursor: invalid filter")
    predicate = _legacy_to_predicate(value)
    problem = predicate_problem(predicate, "filter")
    if problem:
        raise InputError(f"Invalid filter, {problem}")
    return predicate


def legacy_filter_from_predicate(predicate: Predicate) -> LegacyFilter:
    """The legacy form of a filter predicate: of `parse_entity_filter` (each set an `allOf`,
    as Backstage's server writes them, so that its client pages on by GET) or of
    `predicate_from_legacy_filter` (the form it was read from).

    Args:
        predicate: a predicate of `parse_entity_filter` or `predicate_from_legacy_filter`.

    Raises:
        ValueError: the predicate has a value operator other than `$exists: true` or `$in`
            (no filter is made of one: a programming error).
    """
    return _legacy_set(predicate)


def _legacy_set(predicate: Predicate) -> LegacyFilter:
    if len(predicate) == 1 and "$any" in predicate:
        return {"anyOf": [_legacy_set(item) for item in predicate["$any"]]}
    legacy = _legacy(predicate)
    return legacy if "key" not in legacy else {"allOf": [legacy]}


def _legacy(predicate: Predicate) -> LegacyFilter:
    if len(predicate) != 1:
        return {"allOf": [_legacy({key: value}) for key, value in predicate.items()]}
    [(key, value)] = predicate.items()
    if key == "$all":
        return {"allOf": [_legacy(item) for item in value]}
    if key == "$any":
        return {"anyOf": [_legacy(item) for item in value]}
    if key == "$not":
        return {"not": _legacy(value)}
    if isinstance(value, str):
        return {"key": key, "values": [value]}
    if value == {"$exists": True}:
        return {"key": key}
    if isinstance(value, dict) and isinstance(value.get("$in"), list):
        return {"key": key, "values": list(value["$in"])}
    raise ValueError(f"not a filter statement: {predicate!r}")
