"""Conditions and the criteria that combine them, and their JSON.

A leaf is a `PermissionCondition` (`{"rule", "resourceType", "params"?}`); `{"allOf": [...]}`
and `{"anyOf": [...]}` (non-empty) and `{"not": c}` nest freely. The same combinators carry
a plugin's own query type once the conditions are transformed (`PermissionCriteria[TQuery]`),
as Backstage's `PermissionCriteria<TQuery>` does. A JSON node is classified by which key it
has, in the order `allOf`, `anyOf`, `not`, otherwise a leaf, as Backstage does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar, Union

from backstage_common.errors import InputError

__all__ = [
    "AllOf",
    "AnyOf",
    "Not",
    "PermissionCondition",
    "PermissionCriteria",
    "criteria_from_json",
    "criteria_to_json",
    "evaluate_criteria",
    "map_criteria",
]

T = TypeVar("T")

# nesting is bounded so that a hostile body cannot exhaust the recursion limit
MAX_CRITERIA_DEPTH = 32


@dataclass(frozen=True)
class PermissionCondition:
    """One rule applied with parameters: a leaf of the criteria.

    Args:
        rule: the rule's name, e.g. `IS_ENTITY_OWNER`.
        resource_type: the type of resource the rule applies to, e.g. `catalog-entity`.
        params: the rule's parameters (JSON values); empty when it takes none.
    """

    rule: str
    resource_type: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AllOf(Generic[T]):
    """Every criterion holds (`{"allOf": [...]}`).

    Args:
        criteria: the criteria, at least one.
    """

    criteria: tuple[PermissionCriteria[T], ...]


@dataclass(frozen=True)
class AnyOf(Generic[T]):
    """At least one criterion holds (`{"anyOf": [...]}`).

    Args:
        criteria: the criteria, at least one.
    """

    criteria: tuple[PermissionCriteria[T], ...]


@dataclass(frozen=True)
class Not(Generic[T]):
    """The criterion does not hold (`{"not": c}`).

    Args:
        criterion: the negated criterion.
    """

    criterion: PermissionCriteria[T]


PermissionCriteria: TypeAlias = Union[AllOf[T], AnyOf[T], Not[T], T]  # noqa: UP007
"""Criteria over leaves of type `T`: `PermissionCondition` on the wire, a plugin's query
type once transformed."""


def criteria_to_json(criteria: PermissionCriteria[PermissionCondition]) -> dict[str, Any]:
    """The criteria as Backstage serializes them.

    Args:
        criteria: conditions combined with `AllOf`, `AnyOf` and `Not`.
    """
    if isinstance(criteria, AllOf):
        return {"allOf": [criteria_to_json(c) for c in criteria.criteria]}
    if isinstance(criteria, AnyOf):
        return {"anyOf": [criteria_to_json(c) for c in criteria.criteria]}
    if isinstance(criteria, Not):
        return {"not": criteria_to_json(criteria.criterion)}
    data: dict[str, Any] = {"rule": criteria.rule, "resourceType": criteria.resource_type}
    if criteria.params:
        data["params"] = dict(criteria.params)
    return data


def criteria_from_json(
    data: Any, path: str = "conditions", _depth: int = 0
) -> PermissionCriteria[PermissionCondition]:
    """Criteria read from Backstage's JSON; InputError naming the path when malformed.

    Args:
        data: the decoded JSON value.
        path: where the value sits in the request, for error messages.
    """
    if _depth > MAX_CRITERIA_DEPTH:
        raise InputError(f"Invalid {path}: nested more than {MAX_CRITERIA_DEPTH} levels deep")
    if not isinstance(data, dict):
        raise InputError(f"Invalid {path}: expected an object")
    for key, combinator in (("allOf", AllOf), ("anyOf", AnyOf)):
        if key in data:
            items = data[key]
            if not isinstance(items, list) or not items:
                raise InputError(f"Invalid {path}.{key}: expected a non-empty array")
            parsed = tuple(
                criteria_from_json(item, f"{path}.{key}[{index}]", _depth + 1)
                for index, item in enumerate(items)
            )
            return combinator(parsed)
    if "not" in data:
        return Not(criteria_from_json(data["not"], f"{path}.not", _depth + 1))
    rule = data.get("rule")
    resource_type = data.get("resourceType")
    if not isinstance(rule, str):
        raise InputError(f"Invalid {path}.rule: expected a string")
    if not isinstance(resource_type, str):
        raise InputError(f"Invalid {path}.resourceType: expected a string")
    params = data.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InputError(f"Invalid {path}.params: expected an object")
    return PermissionCondition(rule, resource_type, params)


U = TypeVar("U")


def map_criteria(criteria: PermissionCriteria[T], leaf: Callable[[T], U]) -> PermissionCriteria[U]:
    """The same criteria with each leaf replaced by `leaf(condition)`, as Backstage's
    condition transformer keeps `allOf`/`anyOf`/`not` and maps the leaves.

    Args:
        criteria: the criteria to map.
        leaf: what a leaf becomes, e.g. a rule's query.
    """
    if isinstance(criteria, AllOf):
        return AllOf(tuple(map_criteria(c, leaf) for c in criteria.criteria))
    if isinstance(criteria, AnyOf):
        return AnyOf(tuple(map_criteria(c, leaf) for c in criteria.criteria))
    if isinstance(criteria, Not):
        return Not(map_criteria(criteria.criterion, leaf))
    return leaf(criteria)


def evaluate_criteria(criteria: PermissionCriteria[T], leaf: Callable[[T], bool]) -> bool:
    """Whether criteria hold: `allOf` every, `anyOf` some, `not` the negation, and a leaf
    what `leaf` says of it.

    Args:
        criteria: the criteria to evaluate.
        leaf: decides one leaf, e.g. by applying its rule to a resource.
    """
    if isinstance(criteria, AllOf):
        return all(evaluate_criteria(c, leaf) for c in criteria.criteria)
    if isinstance(criteria, AnyOf):
        return any(evaluate_criteria(c, leaf) for c in criteria.criteria)
    if isinstance(criteria, Not):
        return not evaluate_criteria(criteria.criterion, leaf)
    return leaf(criteria)
