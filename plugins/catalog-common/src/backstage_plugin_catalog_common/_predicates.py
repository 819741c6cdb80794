"""The filter predicate model: the JSON `query` of the catalog's request bodies.

A predicate is an expression `{"<field>": <value>, ...}` (fields ANDed, `{}` matches all)
or `{"$all": [...]}`, `{"$any": [...]}`, `{"$not": ...}`. A value is a primitive (exact,
case-insensitive), or one of `{"$exists": bool}`, `{"$in": [...]}`, `{"$hasPrefix": str}`,
`{"$contains": ...}`. An object may hold logic operators beside field keys; all its keys
are ANDed.

A predicate's cost is bounded before anything is built from it: it may nest `MAX_DEPTH`
levels, hold `MAX_CONDITIONS` conditions (each field key, each logic operator and each
empty object counts one) and `MAX_VALUES` values (each primitive, each item of an `$in`).
Building the SQL of the largest allowed predicate takes tens of milliseconds; an unbounded
one held the event loop for minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from backstage_common.errors import InputError

__all__ = [
    "LOGIC_OPERATORS",
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_VALUES",
    "VALUE_OPERATORS",
    "Predicate",
    "check_predicate_limits",
    "combine_all",
    "is_primitive",
    "limits_problem",
    "parse_predicate",
    "predicate_problem",
]

Predicate = dict[str, Any]
"""A predicate in its JSON form (only ever built by this package's parsers, or checked by
`parse_predicate`)."""

VALUE_OPERATORS: Final = ("$exists", "$in", "$hasPrefix", "$contains")
"""The operators a field's value may be instead of a primitive."""
LOGIC_OPERATORS: Final = ("$all", "$any", "$not")
"""The operators that combine predicates."""
MAX_DEPTH: Final = 32
"""How many levels a predicate may nest."""
MAX_CONDITIONS: Final = 100
"""How many conditions a predicate may hold (field keys, logic operators, empty objects)."""
MAX_VALUES: Final = 5000
"""How many values a predicate may hold (primitives, items of `$in`)."""


def is_primitive(value: object) -> bool:
    """Whether `value` is a string, number or boolean: what a field is compared with."""
    return isinstance(value, str | int | float | bool)


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _at(path: str) -> str:
    return f' at "{path}"'


def _operand_problem(operator: str, operand: object, path: str, depth: int) -> str | None:
    if operator == "$exists" and not isinstance(operand, bool):
        return f"Expected boolean, received {_describe(operand)}{_at(path)}"
    if operator == "$hasPrefix" and not isinstance(operand, str):
        return f"Expected string, received {_describe(operand)}{_at(path)}"
    if operator == "$in":
        if not isinstance(operand, list):
            return f"Expected array, received {_describe(operand)}{_at(path)}"
        for index, item in enumerate(operand):
            if not is_primitive(item):
                return (
                    "Expected string, number or boolean, received "
                    f"{_describe(item)}{_at(f'{path}[{index}]')}"
                )
    if operator == "$contains" and not is_primitive(operand):
        return _shape_problem(operand, path, depth + 1)
    return None


def _value_problem(value: object, path: str, depth: int) -> str | None:
    if is_primitive(value):
        return None
    if not isinstance(value, dict) or len(value) != 1:
        return (
            "Expected a string, number, boolean or one operator of "
            f"{', '.join(VALUE_OPERATORS)}, received {_describe(value)}{_at(path)}"
        )
    [(operator, operand)] = value.items()
    if operator not in VALUE_OPERATORS:
        return f"Unknown operator {operator}{_at(path)}"
    return _operand_problem(operator, operand, f"{path}.{operator}", depth)


def _logic_problem(operator: str, operand: object, path: str, depth: int) -> str | None:
    inner = f"{path}.{operator}"
    if operator == "$not":
        return _shape_problem(operand, inner, depth + 1)
    if not isinstance(operand, list):
        return f"Expected array, received {_describe(operand)}{_at(inner)}"
    for index, item in enumerate(operand):
        problem = _shape_problem(item, f"{inner}[{index}]", depth + 1)
        if problem:
            return problem
    return None


def _count_values(operand: object, budget: int) -> int:
    """The values in an operand, counted up to `budget` at most."""
    if not isinstance(operand, list | dict):
        return 1
    count = 0
    for item in operand if isinstance(operand, list) else operand.values():
        count += _count_values(item, budget - count)
        if count >= budget:
            break
    return count


def limits_problem(predicate: object) -> str | None:
    """Whether a predicate holds more conditions or values than allowed. It stops at the
    first one past the limits, so its cost is bounded by them too.

    Args:
        predicate: any decoded JSON value; what is not an object counts nothing.
    """
    conditions = values = 0
    pending = [predicate]
    while pending:
        item = pending.pop()
        if not isinstance(item, dict):
            continue
        conditions += max(1, len(item))
        if conditions > MAX_CONDITIONS:
            return f"Filters may hold at most {MAX_CONDITIONS} conditions"
        for key, value in item.items():
            if key in ("$all", "$any") and isinstance(value, list):
                pending.extend(value)
            elif key == "$not":
                pending.append(value)
            elif not key.startswith("$"):
                values += _count_values(value, MAX_VALUES + 1 - values)
                if values > MAX_VALUES:
                    return f"Filters may hold at most {MAX_VALUES} values"
    return None


def check_predicate_limits(predicate: Predicate | None) -> None:
    """Raise InputError when `predicate` holds more conditions or values than allowed.

    Args:
        predicate: a predicate, or None (no filter: nothing to check).
    """
    problem = None if predicate is None else limits_problem(predicate)
    if problem:
        raise InputError(problem)


def predicate_problem(value: object, path: str = "query") -> str | None:
    """What is wrong with a predicate, or None when it is well formed and within the limits.

    Args:
        value: any decoded JSON value.
        path: where the value sits in its request, named in the message (`query`).
    """
    return limits_problem(value) or _shape_problem(value, path, 0)


def parse_predicate(value: object, prefix: str, path: str = "query") -> Predicate:
    """A decoded JSON value as a predicate, or InputError saying what is wrong with it.

    Args:
        value: any decoded JSON value (a request body's `query`, a cursor's `query`).
        prefix: the start of the error message, naming the input (`Invalid query: `).
        path: where the value sits in its request, named in the message.
    """
    problem = predicate_problem(value, path)
    if problem:
        raise InputError(f"{prefix}{problem}")
    assert isinstance(value, dict)  # a well-formed predicate is an object
    return value


def _shape_problem(value: object, path: str, depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return f"Predicates may nest at most {MAX_DEPTH} levels deep{_at(path)}"
    if not isinstance(value, dict):
        return f"Expected object, received {_describe(value)}{_at(path)}"
    for key, item in value.items():
        if key.startswith("$"):
            if key not in LOGIC_OPERATORS:
                return f"Unknown operator {key}, expected one of $all, $any, $not{_at(path)}"
            problem = _logic_problem(key, item, path, depth)
        elif "\n" in key[:1] or "\r" in key[:1]:
            problem = f"Invalid field name{_at(path)}"
        else:
            problem = _value_problem(item, f"{path}.{key}", depth + 1)
        if problem:
            return problem
    return None


def combine_all(predicates: Sequence[Predicate | None]) -> Predicate | None:
    """The AND of the given predicates, or None when none is given.

    Args:
        predicates: predicates to AND; None ones are skipped.
    """
    present = [predicate for predicate in predicates if predicate is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"$all": present}
