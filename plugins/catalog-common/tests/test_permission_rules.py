"""The catalog's permission rules: Backstage's names, schemas and in-memory decisions, and
the predicates their conditions become."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_common.errors import InputError
from backstage_plugin_catalog_common import (
    catalog_permission_rules,
    has_annotation,
    has_label,
    has_metadata,
    has_spec,
    is_entity_kind,
    is_entity_owner,
    parse_predicate,
)

ENTITY: dict[str, Any] = {
    "apiVersion": "backstage.io/v1alpha1",
    "kind": "Component",
    "metadata": {
        "name": "petstore",
        "annotations": {"backstage.io/view-url": "https://example.com/Pets"},
        "labels": {"Tier": "Gold"},
        "tags": ["java", "web"],
    },
    "spec": {"type": "service", "owner": "team-a", "lifecycle": "production"},
    "relations": [
        {"type": "ownedBy", "targetRef": "group:default/team-a"},
        {"type": "partOf", "targetRef": "system:default/pets"},
    ],
}


def test_names_descriptions_and_schemas_are_backstages() -> None:
    assert [rule.name for rule in catalog_permission_rules] == [
        "HAS_ANNOTATION",
        "HAS_LABEL",
        "HAS_METADATA",
        "HAS_SPEC",
        "IS_ENTITY_KIND",
        "IS_ENTITY_OWNER",
    ]
    assert is_entity_owner.description == "Allow entities owned by a specified claim"
    assert has_spec.description == "Allow entities with the specified spec subfield"
    assert has_annotation.params_schema == {
        "type": "object",
        "properties": {
            "annotation": {"type": "string", "description": "Name of the annotation to match on"},
            "value": {"type": "string", "description": "Value of the annotation to match on"},
        },
        "required": ["annotation"],
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }
    assert is_entity_kind.params_schema["properties"]["kinds"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "List of kinds to match at least one of",
    }
    assert is_entity_owner.params_schema["required"] == ["claims"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"annotation": "backstage.io/view-url"}, True),
        ({"annotation": "backstage.io/view-url", "value": "https://example.com/Pets"}, True),
        # then keys and values ignoring case
        ({"annotation": "Backstage.io/View-URL", "value": "https://EXAMPLE.com/pets"}, True),
        ({"annotation": "backstage.io/view-url", "value": "https://example.com/other"}, False),
        ({"annotation": "backstage.io/edit-url"}, False),
    ],
)
def test_has_annotation(params: dict[str, str], expected: bool) -> None:
    assert has_annotation.apply(ENTITY, params) is expected


def test_has_label_and_entities_without_any() -> None:
    assert has_label.apply(ENTITY, {"label": "tier", "value": "gold"})
    assert not has_label.apply(ENTITY, {"label": "tier", "value": "silver"})
    assert not has_label.apply({"kind": "Component", "metadata": {"name": "x"}}, {"label": "tier"})
    assert has_label.to_predicate({"label": "Tier"}) == {"metadata.labels.Tier": {"$exists": True}}


def test_has_metadata_and_spec_read_the_search_rows() -> None:
    assert has_metadata.apply(ENTITY, {"key": "name", "value": "PETSTORE"})
    assert has_metadata.apply(ENTITY, {"key": "tags", "value": "java"})
    # an array's string items are keys of their own, with the value true
    assert has_metadata.apply(ENTITY, {"key": "tags.web"})
    assert has_metadata.apply(ENTITY, {"key": "namespace", "value": "default"})
    assert not has_metadata.apply(ENTITY, {"key": "tags", "value": "python"})
    assert has_spec.apply(ENTITY, {"key": "Lifecycle", "value": "Production"})
    assert not has_spec.apply(ENTITY, {"key": "system"})
    assert has_spec.to_predicate({"key": "lifecycle", "value": "production"}) == {
        "spec.lifecycle": "production"
    }


def test_has_metadata_refuses_keys_that_differ_only_in_case() -> None:
    entity = {**ENTITY, "metadata": {"name": "x", "labels": {"a": "1", "A": "2"}}}
    with pytest.raises(InputError):
        has_metadata.apply(entity, {"key": "labels.a"})


def test_is_entity_kind_ignores_case() -> None:
    assert is_entity_kind.apply(ENTITY, {"kinds": ["API", "component"]})
    assert not is_entity_kind.apply(ENTITY, {"kinds": ["api"]})
    assert not is_entity_kind.apply(ENTITY, {"kinds": []})
    assert is_entity_kind.to_predicate({"kinds": ["API", "Component"]}) == {
        "kind": {"$in": ["api", "component"]}
    }


def test_is_entity_owner_compares_claims_exactly() -> None:
    assert is_entity_owner.apply(ENTITY, {"claims": ["user:default/jane", "group:default/team-a"]})
    assert not is_entity_owner.apply(ENTITY, {"claims": ["group:default/Team-A"]})
    # another relation to the claim is no ownership
    assert not is_entity_owner.apply(ENTITY, {"claims": ["system:default/pets"]})
    assert not is_entity_owner.apply({"kind": "User", "metadata": {}}, {"claims": ["x"]})
    assert is_entity_owner.to_predicate({"claims": ["group:default/team-a"]}) == {
        "relations.ownedBy": "group:default/team-a"
    }
    # no claims match nothing, as Backstage's empty `values` does
    assert is_entity_owner.to_predicate({"claims": []}) == {"relations.ownedBy": {"$in": []}}


@pytest.mark.parametrize(
    ("rule", "params"),
    [
        (has_annotation, {"annotation": "a", "value": "b"}),
        (has_label, {"label": "a"}),
        (has_metadata, {"key": "title", "value": "T"}),
        (has_spec, {"key": "type"}),
        (is_entity_kind, {"kinds": ["a", "b"]}),
        (is_entity_owner, {"claims": ["user:default/a"]}),
    ],
)
def test_every_predicate_is_well_formed(rule: Any, params: dict[str, Any]) -> None:
    predicate = rule.to_predicate(params)
    assert parse_predicate(predicate, "") == predicate
