"""Relation pairs and the relations each built-in kind's spec implies."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_common.catalog_model import (
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
    CompoundEntityRef,
    builtin_relations,
    stringify_entity_ref,
)
from backstage_common.errors import InputError

ALL_RELATIONS = [
    RELATION_OWNED_BY,
    RELATION_OWNER_OF,
    RELATION_CONSUMES_API,
    RELATION_API_CONSUMED_BY,
    RELATION_PROVIDES_API,
    RELATION_API_PROVIDED_BY,
    RELATION_DEPENDS_ON,
    RELATION_DEPENDENCY_OF,
    RELATION_PARENT_OF,
    RELATION_CHILD_OF,
    RELATION_MEMBER_OF,
    RELATION_HAS_MEMBER,
    RELATION_PART_OF,
    RELATION_HAS_PART,
]


def test_relation_names_match_backstage() -> None:
    assert ALL_RELATIONS == [
        "ownedBy",
        "ownerOf",
        "consumesApi",
        "apiConsumedBy",
        "providesApi",
        "apiProvidedBy",
        "dependsOn",
        "dependencyOf",
        "parentOf",
        "childOf",
        "memberOf",
        "hasMember",
        "partOf",
        "hasPart",
    ]


def test_every_relation_has_a_reverse_and_the_pairs_are_symmetric() -> None:
    assert set(RELATION_PAIRS) == set(ALL_RELATIONS)
    for relation, reverse in RELATION_PAIRS.items():
        assert reverse != relation
        assert RELATION_PAIRS[reverse] == relation
    assert RELATION_PAIRS[RELATION_OWNED_BY] == RELATION_OWNER_OF
    assert RELATION_PAIRS[RELATION_PARENT_OF] == RELATION_CHILD_OF


def test_relation_pairs_are_read_only() -> None:
    with pytest.raises(TypeError):
        RELATION_PAIRS["x"] = "y"  # type: ignore[index]


def _as_text(relations: list[tuple[CompoundEntityRef, str, CompoundEntityRef]]) -> list[str]:
    return [
        f"{stringify_entity_ref(source)} {type_} {stringify_entity_ref(target)}"
        for source, type_, target in relations
    ]


def _entity(kind: str, spec: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "me"}
    if namespace is not None:
        metadata["namespace"] = namespace
    api_version = (
        "scaffolder.backstage.io/v1beta3" if kind == "Template" else "backstage.io/v1alpha1"
    )
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


CASES = [
    (
        "Component",
        {
            "owner": "team",
            "subcomponentOf": "parent",
            "providesApis": ["pets"],
            "consumesApis": ["api:other/orders"],
            "dependsOn": ["resource:db"],
            "dependencyOf": ["component:front"],
            "system": "shop",
        },
        [
            "component:ns/me ownedBy group:ns/team",
            "group:ns/team ownerOf component:ns/me",
            "component:ns/me partOf component:ns/parent",
            "component:ns/parent hasPart component:ns/me",
            "component:ns/me providesApi api:ns/pets",
            "api:ns/pets apiProvidedBy component:ns/me",
            "component:ns/me consumesApi api:other/orders",
            "api:other/orders apiConsumedBy component:ns/me",
            "component:ns/me dependsOn resource:ns/db",
            "resource:ns/db dependencyOf component:ns/me",
            "component:ns/me dependencyOf component:ns/front",
            "component:ns/front dependsOn component:ns/me",
            "component:ns/me partOf system:ns/shop",
            "system:ns/shop hasPart component:ns/me",
        ],
    ),
    (
        "API",
        {"owner": "user:jane", "system": "shop", "definition": "x"},
        [
            "api:ns/me ownedBy user:ns/jane",
            "user:ns/jane ownerOf api:ns/me",
            "api:ns/me partOf system:ns/shop",
            "system:ns/shop hasPart api:ns/me",
        ],
    ),
    (
        "Resource",
        {
            "owner": "team",
            "dependsOn": ["resource:disk"],
            "dependencyOf": ["component:x"],
            "system": "s",
        },
        [
            "resource:ns/me ownedBy group:ns/team",
            "group:ns/team ownerOf resource:ns/me",
            "resource:ns/me dependsOn resource:ns/disk",
            "resource:ns/disk dependencyOf resource:ns/me",
            "resource:ns/me dependencyOf component:ns/x",
            "component:ns/x dependsOn resource:ns/me",
            "resource:ns/me partOf system:ns/s",
            "system:ns/s hasPart resource:ns/me",
        ],
    ),
    (
        "System",
        {"owner": "team", "domain": "sales"},
        [
            "system:ns/me ownedBy group:ns/team",
            "group:ns/team ownerOf system:ns/me",
            "system:ns/me partOf domain:ns/sales",
            "domain:ns/sales hasPart system:ns/me",
        ],
    ),
    (
        "Domain",
        {"owner": "team", "subdomainOf": "top"},
        [
            "domain:ns/me ownedBy group:ns/team",
            "group:ns/team ownerOf domain:ns/me",
            "domain:ns/me partOf domain:ns/top",
            "domain:ns/top hasPart domain:ns/me",
        ],
    ),
    (
        "Group",
        {"type": "team", "parent": "org", "children": ["sub"], "members": ["jane"]},
        [
            "group:ns/me childOf group:ns/org",
            "group:ns/org parentOf group:ns/me",
            "group:ns/me parentOf group:ns/sub",
            "group:ns/sub childOf group:ns/me",
            "group:ns/me hasMember user:ns/jane",
            "user:ns/jane memberOf group:ns/me",
        ],
    ),
    (
        "User",
        {"memberOf": ["team", "other/guild"]},
        [
            "user:ns/me memberOf group:ns/team",
            "group:ns/team hasMember user:ns/me",
            "user:ns/me memberOf group:other/guild",
            "group:other/guild hasMember user:ns/me",
        ],
    ),
    (
        "Template",
        {"owner": "team", "type": "service", "steps": []},
        [
            "template:ns/me ownedBy group:ns/team",
            "group:ns/team ownerOf template:ns/me",
        ],
    ),
    ("Location", {"targets": ["./a.yaml"]}, []),
]


@pytest.mark.parametrize(("kind", "spec", "expected"), CASES, ids=[c[0] for c in CASES])
def test_builtin_relations_of_each_kind(
    kind: str, spec: dict[str, Any], expected: list[str]
) -> None:
    assert _as_text(builtin_relations(_entity(kind, spec, namespace="ns"))) == expected


def test_relations_keep_the_case_written_and_default_to_the_default_namespace() -> None:
    relations = builtin_relations(_entity("Component", {"owner": "Team-A"}))
    me = CompoundEntityRef("Component", "default", "me")
    team = CompoundEntityRef("Group", "default", "Team-A")
    assert relations == [(me, "ownedBy", team), (team, "ownerOf", me)]


def test_every_relation_comes_with_its_reverse() -> None:
    for kind, spec, _ in CASES:
        relations = builtin_relations(_entity(kind, spec))
        forward = {(s, t, d) for s, t, d in relations}
        assert {(d, RELATION_PAIRS[t], s) for s, t, d in relations} == forward


def test_empty_fields_imply_nothing() -> None:
    spec = {"owner": "", "providesApis": [], "system": None, "type": "x", "lifecycle": "y"}
    assert builtin_relations(_entity("Component", spec)) == []


def test_unknown_kinds_and_foreign_template_versions_imply_nothing() -> None:
    assert builtin_relations(_entity("Environment", {"owner": "team"})) == []
    template = _entity("Template", {"owner": "team"})
    template["apiVersion"] = "scaffolder.backstage.io/v1beta2"
    assert builtin_relations(template) == []
    assert builtin_relations({"kind": "Component", "metadata": {"name": "x"}}) == []


@pytest.mark.parametrize("field", ["dependsOn", "dependencyOf"])
def test_dependencies_must_name_their_kind(field: str) -> None:
    with pytest.raises(InputError, match="missing or empty kind"):
        builtin_relations(_entity("Resource", {"owner": "x", field: ["db"]}))


def test_a_malformed_ref_in_the_spec_is_an_input_error() -> None:
    with pytest.raises(InputError, match="was not on the form"):
        builtin_relations(_entity("Component", {"owner": "group:/x"}))
    with pytest.raises(InputError, match="must hold entity references"):
        builtin_relations(_entity("User", {"memberOf": [1]}))
