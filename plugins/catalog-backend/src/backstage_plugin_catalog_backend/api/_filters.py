"""The `filter=` query grammar and the legacy filter objects that cursors may carry.

Each `filter` parameter is one set of comma-separated statements `key=value`, `key=` or
`key`; statements with different keys are ANDed, values of one key are ORed, and the sets
are ORed. A set becomes a predicate (see `_predicates`); the legacy form
(`{key, values?}`, `{allOf}`, `{anyOf}`, `{not}`) is what Backstage puts in the `filter` key
of a query cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backstage_common.errors import InputError

from backstage_plugin_catalog_backend.api._predicates import (
    Predicate,
    check_predicate_limits,
    predicate_problem,
)

__all__ = ["legacy_filter_predicate", "parse_filter_params"]

LegacyFilter = dict[str, Any]


def _parse_set(text: str) -> list[tuple[str, list[str] | None]]:
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


def _statement_predicate(key: str, values: list[str] | None) -> Predicate:
    if values is None:
        return {key: {"$exists": True}}
    if len(values) == 1:
        return {key: values[0]}
    return {key: {"$in": values}}


def parse_filter_params(texts: Sequence[str]) -> tuple[Predicate | None, LegacyFilter | None]:
    """The `filter` parameters as a predicate and as a legacy filter (None: no filter)."""
    sets = [parsed for parsed in (_parse_set(text) for text in texts) if parsed]
    if not sets:
        return None, None
    predicates: list[Predicate] = []
    legacy: list[LegacyFilter] = []
    for statements in sets:
        parts = [_statement_predicate(key, values) for key, values in statements]
        predicates.append(parts[0] if len(parts) == 1 else {"$all": parts})
        legacy.append(
            {
                "allOf": [
                    {"key": key, **({"values": values} if values is not None else {})}
                    for key, values in statements
                ]
            }
        )
    if len(predicates) == 1:
        predicate, legacy_filter = predicates[0], legacy[0]
    else:
        predicate, legacy_filter = {"$any": predicates}, {"anyOf": legacy}
    check_predicate_limits(predicate)
    return predicate, legacy_filter


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


def legacy_filter_predicate(value: object) -> Predicate:
    """The predicate of a legacy filter object; InputError when it is malformed, or nests
    deeper or holds more than a predicate given directly may."""
    if _legacy_problem(value):
        raise InputError("Malformed cursor: invalid filter")
    predicate = _legacy_to_predicate(value)
    problem = predicate_problem(predicate, "filter")
    if problem:
        raise InputError(f"Invalid filter, {problem}")
    return predicate


def _legacy_to_predicate(value: Any) -> Predicate:
    if "key" in value:
        return _statement_predicate(value["key"], value.get("values"))
    if "not" in value:
        return {"$not": _legacy_to_predicate(value["not"])}
    if "anyOf" in value:
        return {"$any": [_legacy_to_predicate(item) for item in value["anyOf"]]}
    return {"$all": [_legacy_to_predicate(item) for item in value["allOf"]]}
