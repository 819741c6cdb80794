"""The relations a built-in kind's spec implies, as the catalog's built-in processors emit them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from backstage_common.errors import InputError

from ._ref import CompoundEntityRef, get_compound_entity_ref, parse_entity_ref
from ._relations import (
    RELATION_API_CONSUMED_BY,
    RELATION_API_PROVIDED_BY,
    RELATION_CHILD_OF,
    RELATION_CONSUMES_API,
    RELATION_DEPENDENCY_OF,
    RELATION_DEPENDS_ON,
    RELATION_HAS_MEMBER,
    RELATION_HAS_PART,
    RELATION_MEMBER_OF,
    RELATION_OWNED_BY,
    RELATION_OWNER_OF,
    RELATION_PARENT_OF,
    RELATION_PART_OF,
    RELATION_PROVIDES_API,
)

__all__ = ["SpecRelationField", "builtin_relations", "spec_relation_fields"]


class SpecRelationField(NamedTuple):
    """A spec field holding refs: the kind assumed when a ref omits it, and the relation pair."""

    field: str
    default_kind: str | None
    forward: str
    reverse: str


_OWNER: Final = SpecRelationField("owner", "Group", RELATION_OWNED_BY, RELATION_OWNER_OF)
_SYSTEM: Final = SpecRelationField("system", "System", RELATION_PART_OF, RELATION_HAS_PART)
_DEPENDS_ON: Final = SpecRelationField(
    "dependsOn", None, RELATION_DEPENDS_ON, RELATION_DEPENDENCY_OF
)
_DEPENDENCY_OF: Final = SpecRelationField(
    "dependencyOf", None, RELATION_DEPENDENCY_OF, RELATION_DEPENDS_ON
)

_FIELDS_BY_KIND: Final[Mapping[str, tuple[SpecRelationField, ...]]] = {
    "Component": (
        _OWNER,
        SpecRelationField("subcomponentOf", "Component", RELATION_PART_OF, RELATION_HAS_PART),
        SpecRelationField("providesApis", "API", RELATION_PROVIDES_API, RELATION_API_PROVIDED_BY),
        SpecRelationField("consumesApis", "API", RELATION_CONSUMES_API, RELATION_API_CONSUMED_BY),
        _DEPENDS_ON,
        _DEPENDENCY_OF,
        _SYSTEM,
    ),
    "API": (_OWNER, _SYSTEM),
    "Resource": (_OWNER, _DEPENDS_ON, _DEPENDENCY_OF, _SYSTEM),
    "User": (SpecRelationField("memberOf", "Group", RELATION_MEMBER_OF, RELATION_HAS_MEMBER),),
    "Group": (
        SpecRelationField("parent", "Group", RELATION_CHILD_OF, RELATION_PARENT_OF),
        SpecRelationField("children", "Group", RELATION_PARENT_OF, RELATION_CHILD_OF),
        SpecRelationField("members", "User", RELATION_HAS_MEMBER, RELATION_MEMBER_OF),
    ),
    "System": (
        _OWNER,
        SpecRelationField("domain", "Domain", RELATION_PART_OF, RELATION_HAS_PART),
    ),
    "Domain": (
        _OWNER,
        SpecRelationField("subdomainOf", "Domain", RELATION_PART_OF, RELATION_HAS_PART),
    ),
}

_TEMPLATE_API_VERSION: Final = "scaffolder.backstage.io/v1beta3"


def spec_relation_fields(entity: Mapping[str, Any]) -> tuple[SpecRelationField, ...]:
    """The spec fields of the entity's built-in kind that hold entity refs, in emit order."""
    kind = entity.get("kind")
    if kind == "Template":
        return (_OWNER,) if entity.get("apiVersion") == _TEMPLATE_API_VERSION else ()
    return _FIELDS_BY_KIND.get(kind, ()) if isinstance(kind, str) else ()


Relation = tuple[CompoundEntityRef, str, CompoundEntityRef]


def builtin_relations(entity: Mapping[str, Any]) -> list[Relation]:
    """`(source, type, target)` for every ref in the spec, each in both directions.

    A ref without a kind takes the field's default kind (`owner`: Group, `system`: System,
    `providesApis`/`consumesApis`: API, `members`: User, ...; `dependsOn` and `dependencyOf`
    have none, so their refs must name a kind) and the entity's namespace. A ref that cannot be
    parsed raises `InputError`. Kinds are matched exactly; other kinds imply no relations.
    """
    fields = spec_relation_fields(entity)
    spec = entity.get("spec")
    if not fields or not isinstance(spec, Mapping):
        return []
    self_ref = get_compound_entity_ref(entity)
    relations: list[Relation] = []
    for field in fields:
        for target in _targets(spec.get(field.field), field.field):
            target_ref = parse_entity_ref(
                target, default_kind=field.default_kind, default_namespace=self_ref.namespace
            )
            relations.append((self_ref, field.forward, target_ref))
            relations.append((target_ref, field.reverse, self_ref))
    return relations


def _targets(value: Any, field: str) -> list[str | Mapping[str, Any]]:
    """A field's refs: none when empty, one when a single value, or every item of a list."""
    if not value:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    for item in items:
        if not isinstance(item, str | Mapping):
            raise InputError(f"spec.{field} must hold entity references, found {item!r}")
    return list(items)
