"""Permissions, as `@backstage/plugin-permission-common`'s `createPermission` makes them.

A permission is what a policy decides on: its `name`, its `attributes` (the optional
`action`) and, for a resource permission, the `resourceType` of the resources it is checked
against. The JSON form is Backstage's: `{"type": "basic" | "resource", "name", "attributes",
"resourceType"?}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard, get_args, overload

from backstage_common.errors import InputError

__all__ = [
    "BasicPermission",
    "Permission",
    "PermissionAction",
    "PermissionAttributes",
    "ResourcePermission",
    "create_permission",
    "is_permission",
    "is_resource_permission",
    "permission_from_json",
    "permission_to_json",
]

PermissionAction = Literal["create", "read", "update", "delete"]
"""The values Backstage allows for a permission's `action` attribute."""

_ACTIONS: frozenset[str] = frozenset(get_args(PermissionAction))


@dataclass(frozen=True)
class PermissionAttributes:
    """What a policy may know of a permission besides its name.

    Args:
        action: what the permission allows; None when it says nothing of it.
    """

    action: PermissionAction | None = None


@dataclass(frozen=True)
class BasicPermission:
    """A permission not tied to a resource (`{"type": "basic"}`).

    Args:
        name: the permission's unique name, e.g. `catalog.location.create`.
        attributes: its attributes (the action).
    """

    name: str
    attributes: PermissionAttributes = field(default_factory=PermissionAttributes)

    @property
    def type(self) -> Literal["basic"]:
        """Always `basic`."""
        return "basic"


@dataclass(frozen=True)
class ResourcePermission:
    """A permission checked against resources of one type (`{"type": "resource"}`).

    Args:
        name: the permission's unique name, e.g. `catalog.entity.read`.
        resource_type: the type of resource it applies to, e.g. `catalog-entity`.
        attributes: its attributes (the action).
    """

    name: str
    resource_type: str
    attributes: PermissionAttributes = field(default_factory=PermissionAttributes)

    @property
    def type(self) -> Literal["resource"]:
        """Always `resource`."""
        return "resource"


Permission = BasicPermission | ResourcePermission
"""Any permission."""


@overload
def create_permission(
    name: str, *, action: PermissionAction | None = None, resource_type: None = None
) -> BasicPermission: ...


@overload
def create_permission(
    name: str, *, action: PermissionAction | None = None, resource_type: str
) -> ResourcePermission: ...


def create_permission(
    name: str, *, action: PermissionAction | None = None, resource_type: str | None = None
) -> Permission:
    """A permission: a resource permission when `resource_type` is given, else a basic one.

    Args:
        name: the permission's unique name.
        action: the `action` attribute, if any.
        resource_type: the type of resource it applies to; None for a basic permission.
    """
    if action is not None and action not in _ACTIONS:
        raise ValueError(f"Invalid permission action '{action}'")
    attributes = PermissionAttributes(action)
    if resource_type is None:
        return BasicPermission(name, attributes)
    return ResourcePermission(name, resource_type, attributes)


def is_resource_permission(
    permission: Permission, resource_type: str | None = None
) -> TypeGuard[ResourcePermission]:
    """Whether a permission is a resource permission (of one type, when given).

    Args:
        permission: the permission to check.
        resource_type: the resource type it must have; None: any.
    """
    if not isinstance(permission, ResourcePermission):
        return False
    return resource_type is None or permission.resource_type == resource_type


def is_permission(permission: Permission, other: Permission) -> bool:
    """Whether two permissions are the same one (same name), as Backstage's `isPermission`.

    Args:
        permission: the permission asked about, as a policy receives it.
        other: the permission to compare it with, e.g. one the plugin defines.
    """
    return permission.name == other.name


def permission_to_json(permission: Permission) -> dict[str, Any]:
    """The permission as Backstage serializes it.

    Args:
        permission: the permission to serialize.
    """
    attributes: dict[str, Any] = {}
    if permission.attributes.action is not None:
        attributes["action"] = permission.attributes.action
    data: dict[str, Any] = {
        "type": permission.type,
        "name": permission.name,
        "attributes": attributes,
    }
    if isinstance(permission, ResourcePermission):
        data["resourceType"] = permission.resource_type
    return data


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"Invalid {path}: expected a string")
    return value


def permission_from_json(data: Any, path: str = "permission") -> Permission:
    """A permission read from Backstage's JSON; InputError naming `path` when malformed.

    Unknown keys are ignored, as Backstage's schema strips them.

    Args:
        data: the decoded JSON value.
        path: where the value sits in the request, for error messages.
    """
    if not isinstance(data, dict):
        raise InputError(f"Invalid {path}: expected an object")
    kind = data.get("type")
    name = _string(data.get("name"), f"{path}.name")
    raw_attributes = data.get("attributes")
    if not isinstance(raw_attributes, dict):
        raise InputError(f"Invalid {path}.attributes: expected an object")
    action = raw_attributes.get("action")
    if action is not None and action not in _ACTIONS:
        raise InputError(
            f"Invalid {path}.attributes.action: expected one of create, read, update, delete"
        )
    attributes = PermissionAttributes(action)
    if kind == "basic":
        return BasicPermission(name, attributes)
    if kind == "resource":
        resource_type = _string(data.get("resourceType"), f"{path}.resourceType")
        return ResourcePermission(name, resource_type, attributes)
    raise InputError(f"Invalid {path}.type: expected 'basic' or 'resource'")
