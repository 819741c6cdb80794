"""core.permissionsRegistry: the permissions, resource types and rules a plugin defines.

What a plugin registers here is published at `/.well-known/backstage/permissions/metadata`
on its router, and its rules are applied there to conditional decisions
(`/.well-known/backstage/permissions/apply-conditions`), as Backstage's permission
integration router does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from backstage_plugin_permission_common import Permission

__all__ = [
    "GetResources",
    "PermissionResourceRef",
    "PermissionRule",
    "PermissionRuleset",
    "PermissionsRegistryService",
]

TResource = TypeVar("TResource")
TQuery = TypeVar("TQuery")
TResource_co = TypeVar("TResource_co", covariant=True)
TQuery_co = TypeVar("TQuery_co", covariant=True)
TResource_contra = TypeVar("TResource_contra", contravariant=True)


@dataclass(frozen=True)
class PermissionResourceRef(Generic[TResource, TQuery]):
    """A plugin's resource type, typed with its resource and query types.

    Args:
        plugin_id: the plugin that owns the resources.
        resource_type: the resource type, e.g. `catalog-entity`.
    """

    plugin_id: str
    resource_type: str


class PermissionRule(Protocol[TResource_contra, TQuery_co]):
    """A rule conditions refer to by name: applied to a loaded resource, or turned into
    the plugin's query type. `create_permission_rule` (permission-node) makes one."""

    @property
    def name(self) -> str:
        """The rule's name, e.g. `IS_ENTITY_OWNER`."""
        ...

    @property
    def description(self) -> str:
        """What the rule checks, for policy authors."""
        ...

    @property
    def resource_type(self) -> str:
        """The resource type it applies to."""
        ...

    @property
    def params_schema(self) -> Mapping[str, Any]:
        """Its parameters' JSON Schema (draft-07, an object schema)."""
        ...

    def validate_params(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """The parameters, checked against the schema; InputError `Parameters to rule are
        invalid` otherwise.

        Args:
            params: the condition's parameters.
        """
        ...

    def apply(self, resource: TResource_contra, params: Mapping[str, Any]) -> bool:
        """Whether a resource meets the rule.

        Args:
            resource: the loaded resource.
            params: validated parameters.
        """
        ...

    def to_query(self, params: Mapping[str, Any]) -> TQuery_co:
        """The rule as a query over the plugin's resources.

        Args:
            params: validated parameters.
        """
        ...


class PermissionRuleset(Protocol[TResource_co, TQuery_co]):
    """The rules registered for one resource type."""

    def get_rules(self) -> Sequence[PermissionRule[Any, TQuery_co]]:
        """Every rule of the resource type."""
        ...

    def get_rule_by_name(self, name: str) -> PermissionRule[Any, TQuery_co]:
        """One rule; an error naming the rule and resource type when there is none.

        Args:
            name: the rule's name.
        """
        ...


GetResources = Callable[[Sequence[str]], Awaitable[Sequence[Any | None]]]
"""Loads resources by ref, one result per ref in order, None for a missing one."""


class PermissionsRegistryService(Protocol):
    """core.permissionsRegistry: what this plugin publishes to the permission framework.

    Register before the backend has started; later registrations are refused.
    """

    def add_permissions(self, permissions: Sequence[Permission]) -> None:
        """Publish permissions in the plugin's metadata (same name: the last wins).

        Args:
            permissions: the permissions the plugin checks.
        """
        ...

    def add_permission_rules(self, rules: Sequence[PermissionRule[Any, Any]]) -> None:
        """Add rules to resource types already added with `add_resource_type`.

        Args:
            rules: the rules; a name already used for the same resource type is refused.
        """
        ...

    def add_resource_type(
        self,
        *,
        resource_ref: PermissionResourceRef[TResource, TQuery],
        rules: Sequence[PermissionRule[TResource, TQuery]],
        permissions: Sequence[Permission] = (),
        get_resources: Callable[[Sequence[str]], Awaitable[Sequence[TResource | None]]]
        | None = None,
    ) -> None:
        """Add a resource type the plugin owns, with its rules and permissions.

        Args:
            resource_ref: the resource type; its plugin id must be this plugin's.
            rules: the rules conditions on it may use.
            permissions: permissions to publish with it.
            get_resources: loads resources by ref, for applying conditions to them;
                without it, apply-conditions answers 501 for this type.
        """
        ...

    def get_permission_ruleset(
        self, resource_ref: PermissionResourceRef[TResource, TQuery]
    ) -> PermissionRuleset[TResource, TQuery]:
        """The rules of one of this plugin's resource types, for turning conditions into
        queries (`create_condition_transformer`).

        Args:
            resource_ref: a resource type added with `add_resource_type`.
        """
        ...
