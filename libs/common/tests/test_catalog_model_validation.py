"""Entity validation: valid descriptors pass, and every broken rule is reported with its path."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml
from backstage_common.catalog_model import (
    KIND_SCHEMAS,
    KNOWN_KINDS,
    Entity,
    EntityValidationError,
    Violation,
    builtin_kind_schema,
    entity_violations,
    is_valid_annotation_key,
    is_valid_api_version,
    is_valid_entity_name,
    is_valid_kind,
    is_valid_label_key,
    is_valid_label_value,
    is_valid_namespace,
    is_valid_tag,
    is_valid_url,
    validate_entity,
)
from backstage_common.errors import InputError
from jsonschema import Draft7Validator

FIXTURES = Path(__file__).parent / "fixtures" / "catalog"


def _fixture_entities() -> list[Any]:
    params = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            ref = f"{path.name}:{document['kind']}:{document['metadata']['name']}"
            params.append(pytest.param(document, id=ref))
    return params


FIXTURE_ENTITIES = _fixture_entities()


def _component() -> Entity:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "checkout-service"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "payments"},
    }


def _paths(entity: Any, **options: bool) -> list[str]:
    return [violation.path for violation in entity_violations(entity, **options)]


def test_fixtures_cover_every_built_in_kind() -> None:
    kinds = {param.values[0]["kind"] for param in FIXTURE_ENTITIES}
    assert set(KNOWN_KINDS) <= kinds


@pytest.mark.parametrize("entity", FIXTURE_ENTITIES)
def test_realistic_descriptors_are_valid(entity: Entity) -> None:
    assert entity_violations(entity) == []
    validate_entity(entity)


def _set(path: str, value: Any) -> Callable[[Entity], None]:
    def change(entity: Entity) -> None:
        *parents, last = path.split(".")
        target = entity
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value

    return change


def _delete(path: str) -> Callable[[Entity], None]:
    def change(entity: Entity) -> None:
        *parents, last = path.split(".")
        target = entity
        for key in parents:
            target = target[key]
        del target[last]

    return change


INVALID = [
    ("no apiVersion", [_delete("apiVersion")], ["apiVersion"]),
    ("apiVersion with two slashes", [_set("apiVersion", "a/b/v1")], ["apiVersion"]),
    ("apiVersion not a string", [_set("apiVersion", 1)], ["apiVersion"]),
    ("kind with a dash", [_set("kind", "My-Kind")], ["kind"]),
    ("kind empty", [_set("kind", "")], ["kind"]),
    ("no metadata", [_delete("metadata")], ["metadata"]),
    ("no name", [_delete("metadata.name")], ["metadata.name"]),
    ("name too long", [_set("metadata.name", "a" * 64)], ["metadata.name"]),
    ("name ends with a dash", [_set("metadata.name", "service-")], ["metadata.name"]),
    ("name with a slash", [_set("metadata.name", "a/b")], ["metadata.name"]),
    ("name not a string", [_set("metadata.name", 7)], ["metadata.name"]),
    ("namespace in capitals", [_set("metadata.namespace", "Payments")], ["metadata.namespace"]),
    ("namespace empty", [_set("metadata.namespace", "")], ["metadata.namespace"]),
    ("namespace with a dot", [_set("metadata.namespace", "a.b")], ["metadata.namespace"]),
    ("title empty", [_set("metadata.title", "")], ["metadata.title"]),
    ("description a number", [_set("metadata.description", 3)], ["metadata.description"]),
    (
        "label key with two slashes",
        [_set("metadata.labels", {"a/b/c": "x"})],
        ['metadata.labels["a/b/c"]'],
    ),
    (
        "label key prefix not a DNS subdomain",
        [_set("metadata.labels", {"Example.com/tier": "x"})],
        ['metadata.labels["Example.com/tier"]'],
    ),
    (
        "label value with a space",
        [_set("metadata.labels", {"tier": "back end"})],
        ["metadata.labels.tier"],
    ),
    ("label value not a string", [_set("metadata.labels", {"tier": 1})], ["metadata.labels.tier"]),
    ("labels a list", [_set("metadata.labels", ["tier"])], ["metadata.labels"]),
    (
        "annotation key with a space",
        [_set("metadata.annotations", {"my key": "v"})],
        ['metadata.annotations["my key"]'],
    ),
    (
        "annotation value not a string",
        [_set("metadata.annotations", {"example.com/x": True})],
        ['metadata.annotations["example.com/x"]'],
    ),
    (
        "tags in capitals, empty and with a double dash",
        [_set("metadata.tags", ["ok", "Java", "", "a--b"])],
        ["metadata.tags[1]", "metadata.tags[2]", "metadata.tags[3]"],
    ),
    ("tags a string", [_set("metadata.tags", "java")], ["metadata.tags"]),
    (
        "link without url, relative url, blank title",
        [
            _set(
                "metadata.links",
                [{"title": "x"}, {"url": "/docs"}, {"url": "https://a", "icon": " "}],
            )
        ],
        ["metadata.links[0].url", "metadata.links[1].url", "metadata.links[2].icon"],
    ),
    ("unknown root field", [_set("extra", 1)], ["extra"]),
    ("relations on input", [_set("relations", [])], ["relations"]),
    ("no spec", [_delete("spec")], ["spec"]),
    ("spec a list", [_set("spec", [])], ["spec"]),
    ("spec null", [_set("spec", None)], ["spec"]),
    (
        "component missing every required spec field",
        [_set("spec", {})],
        ["spec.type", "spec.lifecycle", "spec.owner"],
    ),
    (
        "component spec fields of the wrong type",
        [_set("spec.owner", ""), _set("spec.system", ["x"]), _set("spec.dependsOn", ["a", 2])],
        ["spec.owner", "spec.system", "spec.dependsOn[1]"],
    ),
]


@pytest.mark.parametrize(("changes", "expected"), [pytest.param(c, e, id=i) for i, c, e in INVALID])
def test_each_broken_rule_is_reported_at_its_path(
    changes: list[Callable[[Entity], None]], expected: list[str]
) -> None:
    entity = _component()
    for change in changes:
        change(entity)
    assert sorted(_paths(entity)) == sorted(expected)
    with pytest.raises(EntityValidationError) as raised:
        validate_entity(entity)
    assert [v.path for v in raised.value.violations] == _paths(entity)


SPEC_CASES = [
    ("API", {"type": "openapi", "lifecycle": "production", "owner": "x"}, ["spec.definition"]),
    ("API", {"definition": 1}, ["spec.type", "spec.lifecycle", "spec.owner", "spec.definition"]),
    ("Resource", {"owner": "x", "dependsOn": "resource:db"}, ["spec.type", "spec.dependsOn"]),
    ("System", {"domain": "d"}, ["spec.owner"]),
    ("Domain", {"owner": "x", "subdomainOf": ""}, ["spec.subdomainOf"]),
    ("Group", {"type": "team"}, ["spec.children"]),
    ("Group", {"type": "team", "children": [], "profile": {"email": ""}}, ["spec.profile.email"]),
    ("User", {}, ["spec.memberOf"]),
    ("User", {"memberOf": "team"}, ["spec.memberOf"]),
    ("Location", {"presence": "sometimes", "targets": [""]}, ["spec.presence", "spec.targets[0]"]),
    ("Template", {"type": "service"}, ["spec.steps"]),
    ("Template", {"type": "service", "steps": [{"id": "x"}]}, ["spec.steps[0].action"]),
    (
        "Template",
        {"type": "service", "steps": [], "parameters": "name", "output": {"links": [{"url": ""}]}},
        ["spec.parameters", "spec.output.links[0].url"],
    ),
]


@pytest.mark.parametrize(("kind", "spec", "expected"), SPEC_CASES)
def test_each_built_in_kind_checks_its_spec(
    kind: str, spec: dict[str, Any], expected: list[str]
) -> None:
    api_version = KIND_SCHEMAS[kind].api_versions[0]
    entity = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    assert sorted(_paths(entity)) == sorted(expected)


def test_all_violations_come_together_in_one_error() -> None:
    entity = _component()
    entity["metadata"].update(name="-x-", namespace="Prod", tags=["ok", "Bad"])
    entity["spec"] = {"type": "service", "owner": 3}
    with pytest.raises(EntityValidationError) as raised:
        validate_entity(entity)
    error = raised.value
    assert isinstance(error, InputError)
    assert [v.path for v in error.violations] == [
        "metadata.name",
        "metadata.namespace",
        "metadata.tags[1]",
        "spec.lifecycle",
        "spec.owner",
    ]
    assert error.message.startswith("Entity component:prod/-x- is invalid: ")
    for violation in error.violations:
        assert f"{violation.path}: {violation.message}" in error.message
    assert 'but found "-x-"' in error.message
    assert "spec.owner: must be a string" in error.message


def test_a_violation_reads_as_path_and_message() -> None:
    assert str(Violation("spec.owner", "is required")) == "spec.owner: is required"


def test_an_entity_that_is_not_an_object_is_one_violation() -> None:
    assert entity_violations(["not", "an", "entity"]) == [  # type: ignore[arg-type]
        Violation("<root>", "must be an object")
    ]


def test_unknown_kinds_get_only_the_envelope_checks() -> None:
    entity = {"apiVersion": "example.com/v1", "kind": "Environment", "metadata": {"name": "x"}}
    assert entity_violations(entity) == []
    assert builtin_kind_schema(entity) is None
    entity["metadata"]["name"] = "not valid!"
    assert _paths(entity) == ["metadata.name"]


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("backstage.io/v2", "Component"),
        ("scaffolder.backstage.io/v1beta2", "Template"),
        ("backstage.io/v1alpha1", "component"),
        ("backstage.io/v1alpha1", "Template"),
    ],
)
def test_a_built_in_kind_is_recognised_by_kind_and_api_version_together(
    api_version: str, kind: str
) -> None:
    entity = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {}}
    assert builtin_kind_schema(entity) is None
    assert entity_violations(entity) == []


@pytest.mark.parametrize("api_version", ["backstage.io/v1alpha1", "backstage.io/v1beta1"])
def test_both_backstage_api_versions_are_built_in(api_version: str) -> None:
    entity = {**_component(), "apiVersion": api_version}
    schema = builtin_kind_schema(entity)
    assert schema is not None
    assert schema.kind == "Component"


def test_output_fields_are_admitted_on_request_and_checked() -> None:
    entity: Entity = {
        **_component(),
        "relations": [{"type": "ownedBy", "targetRef": "group:default/payments"}],
        "status": {"items": [{"type": "x", "level": "error", "message": "boom"}]},
    }
    assert _paths(entity) == ["relations", "status"]
    assert _paths(entity, allow_output_fields=True) == []
    entity["relations"] = [{"type": "owned by", "targetRef": ""}, {"type": "x"}]
    entity["status"] = {"items": [{"type": "x", "level": "fatal", "message": "boom"}]}
    assert sorted(_paths(entity, allow_output_fields=True)) == [
        "relations[0].targetRef",
        "relations[0].type",
        "relations[1].targetRef",
        "status.items[0].level",
    ]


def test_any_mapping_and_sequence_is_accepted_as_json_data() -> None:
    entity = _component()
    entity["metadata"] = MappingProxyType({"name": "x", "tags": ("java", "Bad")})
    entity["spec"] = MappingProxyType(entity["spec"])
    assert _paths(MappingProxyType(entity)) == ["metadata.tags[1]"]


def test_validation_does_not_change_the_entity() -> None:
    entity = _component()
    entity["metadata"]["tags"] = ["Bad"]
    before = copy.deepcopy(entity)
    entity_violations(entity)
    assert entity == before


def test_the_kind_schemas_are_valid_draft_7() -> None:
    for schema in KIND_SCHEMAS.values():
        Draft7Validator.check_schema(dict(schema.spec_schema))
    assert set(KIND_SCHEMAS) == set(KNOWN_KINDS)


@pytest.mark.parametrize(
    ("check", "valid", "invalid"),
    [
        (
            is_valid_entity_name,
            ["a", "A1", "my_name.v2-x", "a" * 63, "1-2"],
            ["", "a" * 64, "-a", "a-", "a b", "a/b", "é", "a\n", 5],
        ),
        (
            is_valid_namespace,
            ["default", "a", "team-a", "a--b", "x" * 63],
            ["", "Default", "a_b", "a.b", "-a", "a-", "x" * 64, "a\n"],
        ),
        (is_valid_kind, ["Component", "API", "a1"], ["", "1a", "A-B", "A" * 64]),
        (
            is_valid_api_version,
            ["v1", "backstage.io/v1alpha1", "a.b-c/V1"],
            ["", "/v1", "backstage.io/", "a/b/v1", "Backstage.io/v1", "a/v-1"],
        ),
        (
            is_valid_label_key,
            ["tier", "example.com/tier", "a.b/c_d", "x/" + "a" * 63],
            ["", "a/b/c", "Example.com/x", "ex_ample.com/x", "example.com/", "x/" + "a" * 64],
        ),
        (is_valid_annotation_key, ["backstage.io/edit-url", "docs"], ["a b", "/x", "a//b"]),
        (is_valid_label_value, ["", "v1.2_3"], [" ", "a b", "-x"]),
        (
            is_valid_tag,
            ["java", "c++", "c#", "k8s:prod", "a-b-c", "x" * 63],
            ["", "Java", "a--b", "-a", "a-", "a_b", "a b", "x" * 64],
        ),
        (
            is_valid_url,
            ["https://backstage.io", "http://a/b?c#d", "mailto:x@example.com"],
            ["", "backstage.io", "/docs", "http://", "https://exa mple.com"],
        ),
    ],
)
def test_format_rules(check: Callable[[Any], bool], valid: list[Any], invalid: list[Any]) -> None:
    assert [value for value in valid if not check(value)] == []
    assert [value for value in invalid if check(value)] == []


def test_values_that_are_not_json_data_are_reported_not_crashed_on() -> None:
    """YAML gives dates and the like; the fast check cannot read them, the full one reports
    them at their path."""
    entity = copy.deepcopy(_component())
    entity["metadata"]["title"] = datetime.date(2024, 1, 31)
    entity["spec"]["lifecycle"] = {1, 2}
    violations = {v.path: v.message for v in entity_violations(entity)}
    assert violations == {
        "metadata.title": "must be a string",
        "spec.lifecycle": "must be a string",
    }
