"""The bodies of `POST /api/permission/authorize` and of a plugin's
`POST /.well-known/backstage/permissions/apply-conditions`, in Backstage's JSON.

Plain functions over decoded JSON rather than msgspec structs: the criteria are told apart
by which key they have (not by a tag field), and every malformation must become an
`InputError` naming where it is, which hand-written checks of a few fields give directly.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from backstage_common.errors import InputError

from backstage_plugin_permission_common._criteria import (
    PermissionCondition,
    PermissionCriteria,
    criteria_from_json,
)
from backstage_plugin_permission_common._decisions import (
    AuthorizeResult,
    ConditionalPolicyDecision,
    PolicyDecision,
    decision_from_json,
    decision_to_json,
)
from backstage_plugin_permission_common._permissions import (
    BasicPermission,
    Permission,
    permission_from_json,
    permission_to_json,
)

__all__ = [
    "ApplyConditionsRequestItem",
    "ApplyConditionsResponseItem",
    "AuthorizeRequestItem",
    "AuthorizeResponseItem",
    "ResourceRef",
    "apply_conditions_request_from_json",
    "apply_conditions_request_to_json",
    "apply_conditions_response_from_json",
    "apply_conditions_response_to_json",
    "authorize_request_from_json",
    "authorize_request_to_json",
    "authorize_response_from_json",
    "authorize_response_to_json",
]

ResourceRef = str | tuple[str, ...]
"""One resource's ref, or several (answered with one result per ref, in order)."""

ResultValue = AuthorizeResult | tuple[AuthorizeResult, ...]


@dataclass(frozen=True)
class AuthorizeRequestItem:
    """One item of an `/authorize` request.

    Args:
        id: the caller's id for the item, echoed in the response.
        permission: the permission asked for.
        resource_ref: the resource(s) it is asked for; None to get a conditional decision
            (resource permissions) or for a basic permission.
    """

    id: str
    permission: Permission
    resource_ref: ResourceRef | None = None


@dataclass(frozen=True)
class AuthorizeResponseItem:
    """One item of an `/authorize` response.

    Args:
        id: the request item's id.
        decision: the decision; a tuple of `ALLOW`/`DENY` results, one per ref, when the
            item asked for several resources and conditions were applied to them.
    """

    id: str
    decision: PolicyDecision | tuple[AuthorizeResult, ...]


@dataclass(frozen=True)
class ApplyConditionsRequestItem:
    """One item of an apply-conditions request: conditions to apply to resources.

    Args:
        id: the caller's id for the item, echoed in the response.
        resource_ref: the resource(s) to check.
        resource_type: their type.
        conditions: the criteria to apply.
    """

    id: str
    resource_ref: ResourceRef
    resource_type: str
    conditions: PermissionCriteria[PermissionCondition]


@dataclass(frozen=True)
class ApplyConditionsResponseItem:
    """One item of an apply-conditions response.

    Args:
        id: the request item's id.
        result: `ALLOW` or `DENY`, or one of them per ref for several refs.
    """

    id: str
    result: ResultValue


def _items(body: Any, what: str) -> list[Any]:
    if not isinstance(body, dict):
        raise InputError(f"Invalid {what}: expected an object")
    items = body.get("items")
    if not isinstance(items, list):
        raise InputError(f"Invalid {what}: items must be an array")
    return items


def _id(item: Any, path: str) -> str:
    if not isinstance(item, dict):
        raise InputError(f"Invalid {path}: expected an object")
    value = item.get("id")
    if not isinstance(value, str):
        raise InputError(f"Invalid {path}.id: expected a string")
    return value


def _unique_id(item: Any, path: str, seen: set[str]) -> str:
    # answers are matched to items by id: two items of one id could not both be answered
    item_id = _id(item, path)
    if item_id in seen:
        raise InputError(f"Invalid {path}.id: '{item_id}' is used by another item")
    seen.add(item_id)
    return item_id


def _resource_ref(value: Any, path: str) -> ResourceRef:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(ref, str) for ref in value):
        return tuple(value)
    raise InputError(f"Invalid {path}: expected a string or a non-empty array of strings")


def _ref_to_json(ref: ResourceRef) -> str | list[str]:
    return ref if isinstance(ref, str) else list(ref)


def authorize_request_from_json(body: Any) -> list[AuthorizeRequestItem]:
    """The items of an `/authorize` request body; InputError when malformed.

    Args:
        body: the decoded JSON body (`{"items": [...]}`).
    """
    parsed: list[AuthorizeRequestItem] = []
    seen: set[str] = set()
    for index, item in enumerate(_items(body, "authorize request")):
        path = f"items[{index}]"
        item_id = _unique_id(item, path, seen)
        permission = permission_from_json(item.get("permission"), f"{path}.permission")
        ref = item.get("resourceRef")
        if ref is not None and isinstance(permission, BasicPermission):
            raise InputError(f"Invalid {path}: resourceRef must not be set for basic permissions")
        resource_ref = None if ref is None else _resource_ref(ref, f"{path}.resourceRef")
        parsed.append(AuthorizeRequestItem(item_id, permission, resource_ref))
    return parsed


def authorize_request_to_json(items: Sequence[AuthorizeRequestItem]) -> dict[str, Any]:
    """The JSON body of an `/authorize` request.

    Args:
        items: the request's items.
    """
    out: list[dict[str, Any]] = []
    for item in items:
        data: dict[str, Any] = {"id": item.id, "permission": permission_to_json(item.permission)}
        if item.resource_ref is not None:
            data["resourceRef"] = _ref_to_json(item.resource_ref)
        out.append(data)
    return {"items": out}


def _result_to_json(result: ResultValue) -> str | list[str]:
    if isinstance(result, tuple):
        return [value.value for value in result]
    return result.value


def authorize_response_to_json(items: Sequence[AuthorizeResponseItem]) -> dict[str, Any]:
    """The JSON body of an `/authorize` response.

    Args:
        items: the response's items, in the request's order.
    """
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item.decision, tuple):
            out.append({"id": item.id, "result": _result_to_json(item.decision)})
        else:
            out.append({"id": item.id, **decision_to_json(item.decision)})
    return {"items": out}


def _definitive(value: Any, path: str) -> AuthorizeResult:
    if value == "ALLOW":
        return AuthorizeResult.ALLOW
    if value == "DENY":
        return AuthorizeResult.DENY
    raise InputError(f"Invalid {path}: expected ALLOW or DENY")


def _result_value(value: Any, path: str) -> ResultValue:
    if isinstance(value, list):
        return tuple(_definitive(entry, f"{path}[{i}]") for i, entry in enumerate(value))
    return _definitive(value, path)


def authorize_response_from_json(
    body: Any, *, ids: Collection[str]
) -> dict[str, PolicyDecision | tuple[AuthorizeResult, ...]]:
    """The decisions of an `/authorize` response by item id; InputError when malformed or
    when its ids are not exactly `ids`, as Backstage's client checks.

    Args:
        body: the decoded JSON body.
        ids: the ids of the request's items.
    """
    decisions: dict[str, PolicyDecision | tuple[AuthorizeResult, ...]] = {}
    for index, item in enumerate(_items(body, "authorize response")):
        path = f"items[{index}]"
        item_id = _id(item, path)
        if isinstance(item.get("result"), list):
            decisions[item_id] = tuple(
                _definitive(v, f"{path}.result[{i}]") for i, v in enumerate(item["result"])
            )
        else:
            decisions[item_id] = decision_from_json(item, path)
    if set(decisions) != set(ids) or len(decisions) != len(ids):
        raise InputError("Invalid authorize response: its item ids do not match the request's")
    return decisions


def apply_conditions_request_from_json(body: Any) -> list[ApplyConditionsRequestItem]:
    """The items of an apply-conditions request body; InputError when malformed. Other keys
    of an item (a spread decision's `result` and `pluginId`) are ignored.

    Args:
        body: the decoded JSON body (`{"items": [...]}`).
    """
    parsed: list[ApplyConditionsRequestItem] = []
    seen: set[str] = set()
    for index, item in enumerate(_items(body, "apply-conditions request")):
        path = f"items[{index}]"
        item_id = _unique_id(item, path, seen)
        ref = _resource_ref(item.get("resourceRef"), f"{path}.resourceRef")
        resource_type = item.get("resourceType")
        if not isinstance(resource_type, str):
            raise InputError(f"Invalid {path}.resourceType: expected a string")
        conditions = criteria_from_json(item.get("conditions"), f"{path}.conditions")
        parsed.append(ApplyConditionsRequestItem(item_id, ref, resource_type, conditions))
    return parsed


def apply_conditions_request_to_json(
    items: Sequence[tuple[str, ResourceRef, ConditionalPolicyDecision]],
) -> dict[str, Any]:
    """The JSON body of an apply-conditions request, each item the decision spread in with
    its `id` and `resourceRef`, as Backstage's permission backend sends it.

    Args:
        items: `(id, resource_ref, decision)` for each item.
    """
    return {
        "items": [
            {"id": item_id, "resourceRef": _ref_to_json(ref), **decision_to_json(decision)}
            for item_id, ref, decision in items
        ]
    }


def apply_conditions_response_to_json(
    items: Sequence[ApplyConditionsResponseItem],
) -> dict[str, Any]:
    """The JSON body of an apply-conditions response.

    Args:
        items: the response's items.
    """
    return {"items": [{"id": item.id, "result": _result_to_json(item.result)} for item in items]}


def apply_conditions_response_from_json(body: Any) -> dict[str, ResultValue]:
    """The results of an apply-conditions response by item id; InputError when malformed.

    Args:
        body: the decoded JSON body.
    """
    results: dict[str, ResultValue] = {}
    for index, item in enumerate(_items(body, "apply-conditions response")):
        path = f"items[{index}]"
        results[_id(item, path)] = _result_value(item.get("result"), f"{path}.result")
    return results
