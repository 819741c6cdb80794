"""The catalog's permission rules, as `@backstage/plugin-catalog-backend` defines them.

A rule is what a conditional policy decision names: `IS_ENTITY_OWNER` with
`{"claims": [...]}`, and so on. Each has two faces that must agree:

- `apply(entity, params)`: the decision for one entity in memory (the permission backend's
  `apply-conditions` round trip, and anything holding an entity already);
- `to_predicate(params)`: the same decision as a filter predicate, so that a conditional
  read becomes part of the SQL of the catalog's reads.

The predicate is Backstage's `toQuery` (an `EntityFilter` `{key, values?}`) in this
package's predicate model: `{key}` is `{key: {"$exists": true}}`, one value an equality,
several `$in`. Like the catalog's own filters it compares keys and values
case-insensitively, where `apply` is case-sensitive in places (`IS_ENTITY_OWNER`), as in
Backstage.

The definitions are plain data so that this package stays isomorphic; the catalog backend
makes permission rules of them for the permissions registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from backstage_plugin_catalog_common._predicates import Predicate
from backstage_plugin_catalog_common._search_rows import search_rows

__all__ = [
    "CatalogPermissionRule",
    "catalog_permission_rules",
    "has_annotation",
    "has_label",
    "has_metadata",
    "has_spec",
    "is_entity_kind",
    "is_entity_owner",
]

Entity = Mapping[str, Any]
Params = Mapping[str, Any]

_JSON_SCHEMA_DRAFT_07: Final = "http://json-schema.org/draft-07/schema#"


@dataclass(frozen=True)
class CatalogPermissionRule:
    """One rule of the `catalog-entity` resource type.

    Args:
        name: the rule's name in policy conditions (`IS_ENTITY_OWNER`).
        description: what the rule allows, as the permission metadata shows it.
        params_schema: the JSON Schema (draft-07) of its `params`.
        apply: whether an entity (its JSON, relations included) meets the rule with
            `params`; `params` have been checked against `params_schema`.
        to_predicate: the predicate matching the same entities, for the catalog's queries.
    """

    name: str
    description: str
    params_schema: dict[str, Any]
    apply: Callable[[Entity, Params], bool]
    to_predicate: Callable[[Params], Predicate]


def _schema(properties: dict[str, dict[str, Any]], required: Sequence[str]) -> dict[str, Any]:
    """An object schema as zod-to-json-schema writes it for Backstage's metadata."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
        "$schema": _JSON_SCHEMA_DRAFT_07,
    }


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _strings(description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description}


def _key_filter(key: str, values: Sequence[str] | None) -> Predicate:
    """Backstage's `EntityFilter` `{key, values}` as a predicate."""
    if values is None:
        return {key: {"$exists": True}}
    if len(values) == 1:
        return {key: values[0]}
    return {key: {"$in": list(values)}}


def _mapping(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _has_entry(entries: Mapping[str, Any] | None, key: str, value: str | None) -> bool:
    """An exact key (and value) match first; then keys and values compared ignoring case."""
    if entries is None:
        return False
    if key in entries and (value is None or entries[key] == value):
        return True
    wanted_key, wanted_value = key.lower(), None if value is None else value.lower()
    return any(
        str(name).lower() == wanted_key
        and (wanted_value is None or (isinstance(found, str) and found.lower() == wanted_value))
        for name, found in entries.items()
    )


def _metadata(entity: Entity) -> Mapping[str, Any]:
    return _mapping(entity.get("metadata")) or {}


def _entry_rule(field: str, noun: str) -> CatalogPermissionRule:
    """HAS_ANNOTATION or HAS_LABEL: an entry of `metadata.<field>`."""

    def apply(entity: Entity, params: Params) -> bool:
        entries = _mapping(_metadata(entity).get(field))
        return _has_entry(entries, params[noun], params.get("value"))

    def to_predicate(params: Params) -> Predicate:
        value = params.get("value")
        return _key_filter(f"metadata.{field}.{params[noun]}", None if value is None else [value])

    return CatalogPermissionRule(
        name=f"HAS_{noun.upper()}",
        description=f"Allow entities with the specified {noun}",
        params_schema=_schema(
            {
                noun: _string(f"Name of the {noun} to match on"),
                "value": _string(f"Value of the {noun} to match on"),
            },
            [noun],
        ),
        apply=apply,
        to_predicate=to_predicate,
    )


def _property_rule(property_type: str) -> CatalogPermissionRule:
    """HAS_METADATA or HAS_SPEC: a search row of the entity under `<property_type>.<key>`."""

    def apply(entity: Entity, params: Params) -> bool:
        key = f"{property_type}.{params['key']}".lower()
        value = params.get("value")
        wanted = None if value is None else value.lower()
        return any(
            row_key == key and (wanted is None or row_value == wanted)
            for row_key, row_value, _ in search_rows(entity)
        )

    def to_predicate(params: Params) -> Predicate:
        value = params.get("value")
        key = f"{property_type}.{params['key']}"
        return _key_filter(key, None if value is None else [value])

    return CatalogPermissionRule(
        name=f"HAS_{property_type.upper()}",
        description=f"Allow entities with the specified {property_type} subfield",
        params_schema=_schema(
            {
                "key": _string(f"Property within the entities {property_type} to match on"),
                "value": _string("Value of the given property to match on"),
            },
            ["key"],
        ),
        apply=apply,
        to_predicate=to_predicate,
    )


def _is_kind(entity: Entity, params: Params) -> bool:
    kind = str(entity.get("kind", "")).lower()
    return any(wanted.lower() == kind for wanted in params["kinds"])


def _is_owner(entity: Entity, params: Params) -> bool:
    claims = set(params["claims"])
    relations = entity.get("relations")
    if not isinstance(relations, list):
        return False
    return any(
        isinstance(relation, Mapping)
        and relation.get("type") == "ownedBy"
        and relation.get("targetRef") in claims
        for relation in relations
    )


has_annotation: Final = _entry_rule("annotations", "annotation")
"""`HAS_ANNOTATION` `{annotation, value?}`: entities with the annotation (and value)."""
has_label: Final = _entry_rule("labels", "label")
"""`HAS_LABEL` `{label, value?}`: entities with the label (and value)."""
has_metadata: Final = _property_rule("metadata")
"""`HAS_METADATA` `{key, value?}`: entities with a `metadata.<key>` value (equal to `value`)."""
has_spec: Final = _property_rule("spec")
"""`HAS_SPEC` `{key, value?}`: entities with a `spec.<key>` value (equal to `value`)."""
is_entity_kind: Final = CatalogPermissionRule(
    name="IS_ENTITY_KIND",
    description="Allow entities matching a specified kind",
    params_schema=_schema({"kinds": _strings("List of kinds to match at least one of")}, ["kinds"]),
    apply=_is_kind,
    to_predicate=lambda params: _key_filter("kind", [kind.lower() for kind in params["kinds"]]),
)
"""`IS_ENTITY_KIND` `{kinds}`: entities of one of the kinds (any case)."""
is_entity_owner: Final = CatalogPermissionRule(
    name="IS_ENTITY_OWNER",
    description="Allow entities owned by a specified claim",
    params_schema=_schema(
        {"claims": _strings("List of claims to match at least one on within ownedBy")},
        ["claims"],
    ),
    apply=_is_owner,
    to_predicate=lambda params: _key_filter("relations.ownedBy", list(params["claims"])),
)
"""`IS_ENTITY_OWNER` `{claims}`: entities with an `ownedBy` relation to one of the claims
(entity refs, such as a user's ownership refs)."""

catalog_permission_rules: Final[tuple[CatalogPermissionRule, ...]] = (
    has_annotation,
    has_label,
    has_metadata,
    has_spec,
    is_entity_kind,
    is_entity_owner,
)
"""Every rule of the `catalog-entity` resource type, in Backstage's order."""
