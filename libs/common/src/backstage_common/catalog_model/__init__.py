"""The catalog's entity model: entities, refs, validation rules, relations and annotations.

Entities are plain JSON data (`Entity`). `validate_entity` checks the envelope every entity
shares and, for the built-in kinds, their `spec`, reporting every violation with its JSON path.
Entity refs (`kind:namespace/name`) are parsed into `CompoundEntityRef` and stringified in their
canonical lowercase form. `builtin_relations` gives the relations a built-in kind's spec implies.

Isomorphic: nothing here imports a backend package.
"""

from ._builtin_relations import SpecRelationField, builtin_relations, spec_relation_fields
from ._constants import (
    ANNOTATION_EDIT_URL,
    ANNOTATION_LOCATION,
    ANNOTATION_ORIGIN_LOCATION,
    ANNOTATION_ORPHAN,
    ANNOTATION_SOURCE_LOCATION,
    ANNOTATION_VIEW_URL,
    DEFAULT_NAMESPACE,
    KNOWN_KINDS,
    Entity,
)
from ._formats import (
    is_non_blank_string,
    is_valid_annotation_key,
    is_valid_annotation_value,
    is_valid_api_version,
    is_valid_dns_label,
    is_valid_dns_subdomain,
    is_valid_entity_name,
    is_valid_kind,
    is_valid_label_key,
    is_valid_label_value,
    is_valid_namespace,
    is_valid_tag,
    is_valid_url,
)
from ._location_ref import parse_location_ref, stringify_location_ref
from ._ref import (
    CompoundEntityRef,
    get_compound_entity_ref,
    normalize_entity_ref_key,
    parse_entity_ref,
    stringify_entity_ref,
)
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
    RELATION_PAIRS,
    RELATION_PARENT_OF,
    RELATION_PART_OF,
    RELATION_PROVIDES_API,
)
from ._schemas import KIND_SCHEMAS, KindSchema
from ._types import (
    EntityLink,
    EntityMetadata,
    EntityRelation,
    EntityStatus,
    EntityStatusItem,
    TypedEntity,
)
from ._validate import (
    EntityValidationError,
    Violation,
    builtin_kind_schema,
    entity_violations,
    validate_entity,
)

__all__ = [
    "ANNOTATION_EDIT_URL",
    "ANNOTATION_LOCATION",
    "ANNOTATION_ORIGIN_LOCATION",
    "ANNOTATION_ORPHAN",
    "ANNOTATION_SOURCE_LOCATION",
    "ANNOTATION_VIEW_URL",
    "DEFAULT_NAMESPACE",
    "KIND_SCHEMAS",
    "KNOWN_KINDS",
    "RELATION_API_CONSUMED_BY",
    "RELATION_API_PROVIDED_BY",
    "RELATION_CHILD_OF",
    "RELATION_CONSUMES_API",
    "RELATION_DEPENDENCY_OF",
    "RELATION_DEPENDS_ON",
    "RELATION_HAS_MEMBER",
    "RELATION_HAS_PART",
    "RELATION_MEMBER_OF",
    "RELATION_OWNED_BY",
    "RELATION_OWNER_OF",
    "RELATION_PAIRS",
    "RELATION_PARENT_OF",
    "RELATION_PART_OF",
    "RELATION_PROVIDES_API",
    "CompoundEntityRef",
    "Entity",
    "EntityLink",
    "EntityMetadata",
    "EntityRelation",
    "EntityStatus",
    "EntityStatusItem",
    "EntityValidationError",
    "KindSchema",
    "SpecRelationField",
    "TypedEntity",
    "Violation",
    "builtin_kind_schema",
    "builtin_relations",
    "entity_violations",
    "get_compound_entity_ref",
    "is_non_blank_string",
    "is_valid_annotation_key",
    "is_valid_annotation_value",
    "is_valid_api_version",
    "is_valid_dns_label",
    "is_valid_dns_subdomain",
    "is_valid_entity_name",
    "is_valid_kind",
    "is_valid_label_key",
    "is_valid_label_value",
    "is_valid_namespace",
    "is_valid_tag",
    "is_valid_url",
    "normalize_entity_ref_key",
    "parse_entity_ref",
    "parse_location_ref",
    "spec_relation_fields",
    "stringify_entity_ref",
    "stringify_location_ref",
    "validate_entity",
]
