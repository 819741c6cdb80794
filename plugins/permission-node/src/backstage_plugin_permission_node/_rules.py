"""Permission rules: `create_permission_rule`, resource refs, and condition factories.

Parameters are checked against the rule's JSON Schema with `jsonschema` (draft 7, the
dialect Backstage publishes in its metadata), compiled once per rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from backstage_backend_plugin_api import PermissionResourceRef, PermissionRule
from backstage_common.errors import InputError
from backstage_plugin_permission_common import PermissionCondition
from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError

__all__ = [
    "DRAFT_07",
    "ConcretePermissionRule",
    "create_condition_factory",
    "create_permission_resource_ref",
    "create_permission_rule",
]

TResource = TypeVar("TResource")
TQuery = TypeVar("TQuery")

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
"""The `$schema` of the rules' parameter schemas."""

_EMPTY_PARAMS: Mapping[str, Any] = {
    "type": "object",
    "properties": {},
    "additionalProperties": False,
    "$schema": DRAFT_07,
}


def create_permission_resource_ref(
    *, plugin_id: str, resource_type: str
) -> PermissionResourceRef[Any, Any]:
    """A plugin's resource type, for registering it and its rules.

    Annotate the result with the resource and query types, e.g.
    `PermissionResourceRef[Entity, EntityPredicate]`.

    Args:
        plugin_id: the plugin that owns the resources.
        resource_type: the resource type, e.g. `catalog-entity`.
    """
    return PermissionResourceRef(plugin_id, resource_type)


@dataclass(frozen=True)
class ConcretePermissionRule(Generic[TResource, TQuery]):
    """A rule made by `create_permission_rule` (a `PermissionRule`).

    Args:
        name: the rule's name.
        description: what it checks.
        resource_type: the resource type it applies to.
        params_schema: its parameters' JSON Schema.
        apply_fn: decides a loaded resource.
        to_query_fn: the rule as the plugin's query.
    """

    name: str
    description: str
    resource_type: str
    params_schema: Mapping[str, Any]
    apply_fn: Callable[[TResource, Mapping[str, Any]], bool] = field(repr=False)
    to_query_fn: Callable[[Mapping[str, Any]], TQuery] = field(repr=False)
    _validator: Draft7Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            Draft7Validator.check_schema(dict(self.params_schema))
        except SchemaError as error:
            raise ValueError(
                f"Invalid params_schema of permission rule '{self.name}': {error.message}"
            ) from None
        object.__setattr__(self, "_validator", Draft7Validator(dict(self.params_schema)))

    def validate_params(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """The parameters, checked; InputError `Parameters to rule are invalid` otherwise.

        Args:
            params: the condition's parameters.
        """
        errors = sorted(self._validator.iter_errors(dict(params)), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(part) for part in errors[0].path) or "params"
            raise InputError(f"Parameters to rule are invalid: {where}: {errors[0].message}")
        return params

    def apply(self, resource: TResource, params: Mapping[str, Any]) -> bool:
        """Whether a resource meets the rule.

        Args:
            resource: the loaded resource.
            params: validated parameters.
        """
        return self.apply_fn(resource, params)

    def to_query(self, params: Mapping[str, Any]) -> TQuery:
        """The rule as a query over the plugin's resources.

        Args:
            params: validated parameters.
        """
        return self.to_query_fn(params)


def create_permission_rule(
    *,
    name: str,
    description: str,
    resource_ref: PermissionResourceRef[TResource, TQuery] | None = None,
    resource_type: str | None = None,
    params_schema: Mapping[str, Any] | None = None,
    apply: Callable[[TResource, Mapping[str, Any]], bool],
    to_query: Callable[[Mapping[str, Any]], TQuery],
) -> ConcretePermissionRule[TResource, TQuery]:
    """A permission rule, as Backstage's `createPermissionRule`.

    Args:
        name: the rule's name, by convention upper snake case (`IS_ENTITY_OWNER`).
        description: what it checks, for policy authors.
        resource_ref: the resource type it applies to (or give `resource_type`).
        resource_type: the resource type's name, when there is no `resource_ref`.
        params_schema: a JSON Schema of its parameters, an object schema (draft 7);
            None: it takes none.
        apply: decides a loaded resource with validated parameters.
        to_query: turns validated parameters into the plugin's query type.
    """
    if resource_ref is not None:
        resource_type = resource_ref.resource_type
    if not resource_type:
        raise ValueError(f"Permission rule '{name}' needs a resource_ref or resource_type")
    schema = dict(_EMPTY_PARAMS if params_schema is None else params_schema)
    schema.setdefault("$schema", DRAFT_07)
    return ConcretePermissionRule(name, description, resource_type, schema, apply, to_query)


def create_condition_factory(
    rule: PermissionRule[Any, Any],
) -> Callable[[Mapping[str, Any]], PermissionCondition]:
    """A function making conditions on one rule, for policies: `factory(params)`.

    Args:
        rule: the rule the conditions refer to.
    """

    def factory(params: Mapping[str, Any] | None = None) -> PermissionCondition:
        return PermissionCondition(rule.name, rule.resource_type, dict(params or {}))

    return factory
